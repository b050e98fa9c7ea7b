"""The actions' pipelines on the fake backend: what the CLI and the server share, without LSP.

The manifest travels on each result (what the prompt held), the stages are reported, and a
request that went stale while the model worked spends nothing on verification."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from lsp_server.assistant import Assistant
from lsp_server.config import Settings
from lsp_server.index.git_facts import GitFacts
from lsp_server.model.backend import CancelToken
from lsp_server.pipeline import edit, explain
from lsp_server.pipeline.run import Ask, Watch
from tests.fake_backend import FakeBackend

CODE = "def area(w, h):\n    return w * h\n\n\ndef volume(w, h, d):\n    return area(w, h) * d\n"


class Stale(Exception):
    pass


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / "geo.py").write_text(CODE)
    return tmp_path


def assistant_with(*answers: str) -> tuple[Assistant, FakeBackend]:
    backend = FakeBackend(answers=answers)
    return Assistant(Settings(), backend_factory=lambda settings: backend), backend


def ask(root: Path, line: int = 4) -> Ask:
    return Ask(root / "geo.py", CODE, (line, 0), (line, 0), [root])


def test_explain_carries_its_manifest_and_the_target_history(workspace: Path):
    git = ["git", "-c", "user.name=Ada", "-c", "user.email=ada@example.com"]
    subprocess.run(["git", "init", "-q", str(workspace)], check=True)
    subprocess.run([*git, "-C", str(workspace), "add", "."], check=True)
    subprocess.run([*git, "-C", str(workspace), "commit", "-qm", "Volumes of boxes"], check=True)
    assistant, backend = assistant_with("Multiplies the area by the depth.")
    assistant.git = GitFacts.open(workspace)
    stages: list[str] = []
    prepared = explain.prepare(assistant, ask(workspace))
    result = explain.run(assistant, prepared, Watch(on_stage=stages.append), CancelToken())
    assert result.text == "Multiplies the area by the depth." and result.target.name == "volume"
    history = [row for row in result.manifest if row.get("section") == "history"]
    assert history and "1 commit" in history[0]["reason"], "the commits that changed the target travel with the result"
    assert "Volumes of boxes" in "".join(m.content for m in backend.requests[0].messages)
    assert stages == ["loading the model"], "the first run says it loads the model"
    explain.run(assistant, explain.prepare(assistant, ask(workspace)), Watch(on_stage=stages.append), CancelToken())
    assert stages == ["loading the model"], "a loaded model is not announced again"


def test_a_refused_edit_says_why_and_shows_the_answer(workspace: Path):
    assistant, _ = assistant_with("```python\ndef volume(w, h, d)\n    return\n```")
    stages: list[str] = []
    result = edit.run(assistant, edit.prepare(assistant, "refactor", ask(workspace)), Watch(on_stage=stages.append), CancelToken())
    assert result.refused is not None and not result.proposal.verification.ok
    assert result.summary == result.refused.reason and result.refused.reason in result.document
    assert "def volume(w, h, d)" in result.document, "the model's answer is shown with the refusal"
    assert result.manifest and result.manifest[0]["title"], "the manifest travels on the result"
    assert stages[-1] == "verifying"


def test_a_verified_edit_is_offered(workspace: Path):
    assistant, _ = assistant_with("```python\ndef volume(w, h, d):\n    base = area(w, h)\n    return base * d\n```")
    result = edit.run(assistant, edit.prepare(assistant, "refactor", ask(workspace)), Watch(), CancelToken())
    assert result.refused is None and result.proposal.verification.ok, result.summary
    assert "base = area(w, h)" in result.proposal.new_text and result.document == ""


def test_a_stale_request_is_not_verified(workspace: Path):
    assistant, _ = assistant_with("```python\ndef volume(w, h, d):\n    return d * area(w, h)\n```")
    stages: list[str] = []

    def stale() -> None:
        raise Stale("geo.py changed while the model worked")

    with pytest.raises(Stale):
        edit.run(assistant, edit.prepare(assistant, "refactor", ask(workspace)), Watch(on_stage=stages.append, still_current=stale), CancelToken())
    assert "verifying" not in stages


def test_generate_tests_plans_where_the_tests_go(workspace: Path):
    assistant, backend = assistant_with("```python\nfrom geo import volume\n\n\ndef test_volume():\n    assert volume(1, 2, 3) == 6\n```")
    prepared = edit.prepare(assistant, "generate_tests", ask(workspace))
    assert prepared.test_plan is not None and prepared.test_plan.test_file.name == "test_geo.py"
    result = edit.run(assistant, prepared, Watch(), CancelToken())
    assert result.proposal.path == prepared.test_plan.test_file and backend.options[0].cache_key == str(workspace)
