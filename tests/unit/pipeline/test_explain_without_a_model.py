"""Explain's pipeline, from the cursor to the answer, on the fake backend: no model file needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from lsp_server.assistant import Assistant
from lsp_server.config import Settings
from lsp_server.errors import GenerationCancelled, ModelNotFound
from lsp_server.model.backend import CancelToken
from lsp_server.pipeline import explain as explain_pipeline
from lsp_server.pipeline.run import Ask, Watch
from tests.fake_backend import FakeBackend

CODE = "def area(w, h):\n    return w * h\n\n\ndef volume(w, h, d):\n    return area(w, h) * d\n"


def explain(assistant: Assistant, root: Path, cancel: CancelToken | None = None, pieces: list | None = None):
    prepared = explain_pipeline.prepare(assistant, Ask(root / "geo.py", CODE, (4, 5), (4, 5), [root]))
    watch = Watch(on_text=(pieces if pieces is not None else []).append)
    return explain_pipeline.run(assistant, prepared, watch, cancel or CancelToken())


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / "geo.py").write_text(CODE)
    return tmp_path


def test_the_answer_streams_and_the_request_carries_the_code_and_the_workspace(workspace):
    backend = FakeBackend(answers=("Multiplies the base by the depth.  ",))
    assistant = Assistant(Settings(), backend_factory=lambda settings: backend)
    pieces: list[str] = []
    result = explain(assistant, workspace, pieces=pieces)
    assert result.target.name == "volume" and result.text == "Multiplies the base by the depth."
    assert "".join(pieces) == "Multiplies the base by the depth.  "
    (request,) = backend.requests
    assert "return area(w, h) * d" in "".join(m.content for m in request.messages), "chat model: a chat request"
    assert backend.options[0].cache_key == str(workspace) and not backend.options[0].speculative


def test_exact_counts_once_the_backend_says_it_is_loaded(workspace):
    backend = FakeBackend(answers=("First.", "Second."))
    assistant = Assistant(Settings(), backend_factory=lambda settings: backend)
    assert explain(assistant, workspace).text == "First."
    assert backend.counted == 0, "the first request packs by estimate: loading must not block it"
    assert explain(assistant, workspace).text == "Second." and backend.counted > 0


def test_failures_reach_the_caller(workspace):
    missing = Assistant(Settings(), backend_factory=lambda settings: FakeBackend(load_error=ModelNotFound("no model")))
    with pytest.raises(ModelNotFound):
        explain(missing, workspace)
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(GenerationCancelled):
        explain(Assistant(Settings(), backend_factory=lambda settings: FakeBackend()), workspace, cancel)
