"""Change... on the real bundled model: context with what the instruction names -> request -> the
model -> parse -> apply -> verify in the shadow copy. The 270M model rarely writes a good change;
a refusal with a reason is a valid outcome, but the path must run through and say which."""

from __future__ import annotations

import pytest

from lsp_server.actions import change, change_prompt
from lsp_server.actions.change_format import parse_answer
from lsp_server.assistant import Assistant
from lsp_server.config import ModelSettings, Settings, VerifySettings
from lsp_server.model.backend import CancelToken
from lsp_server.pipeline import change as change_pipeline
from lsp_server.pipeline.run import Ask, Watch

pytestmark = pytest.mark.e2e
INSTRUCTION = "Add a MAX_PERCENT setting in shop/pricing.py and use it in apply_discount instead of 100."


def test_change_runs_through_on_the_bundled_model(workspace):
    settings = Settings(model=ModelSettings(n_ctx=2048, max_tokens=256, temperature=0.0), verify=VerifySettings(timeout_seconds=60))
    assistant = Assistant(settings)
    try:
        assistant.index_for([workspace]).build()
        assistant.backend.load()
        path = workspace / "shop" / "pricing.py"
        before = path.read_text()
        prepared = change_pipeline.prepare(assistant, Ask(path, before, (5, 0), (5, 0), [workspace]), INSTRUCTION)
        packed = prepared.packed
        proposal = change_pipeline.run(assistant, prepared, Watch(), CancelToken()).proposal
    finally:
        assistant.close()
    assert packed.target.name == "apply_discount"
    assert any("named in the instruction" in row["reason"] for row in packed.manifest)  # "shop/pricing.py", `apply_discount`
    assert proposal.answer.startswith(change_prompt.answer_prefix(change_prompt.DEFAULT_FORMAT, "shop/pricing.py"))  # the request's start came back
    assert path.read_text() == before  # nothing is written: only the shadow copy is changed
    assert proposal.verification.checks
    if proposal.ok:
        assert proposal.files and parse_answer(proposal.answer, proposal.format).parsed
        for file, old, new, create in change.edit_triples(proposal):
            compile(new, str(file), "exec")
            assert old == ("" if create else file.read_text()) and create != file.exists()
    else:
        refused = change.refusal(proposal, workspace)
        assert refused.reason and refused.tried.startswith("Change `Add a MAX_PERCENT")
        assert any(not check.ok for check in proposal.verification.checks)
