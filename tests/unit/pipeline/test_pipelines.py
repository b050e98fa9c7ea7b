"""The actions' pipelines on the fake backend: what the CLI and the server share, without LSP.

The manifest travels on each result (what the prompt held), the stages are reported, and a
request that went stale while the model worked spends nothing on verification."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from lsp_server.assistant import Assistant
from lsp_server.actions import outcome
from lsp_server.config import Settings, settings_from_mapping
from lsp_server.index.git_facts import GitFacts
from lsp_server.model.backend import CancelToken
from lsp_server.pipeline import edit, explain, run
from lsp_server.pipeline.run import Ask, Watch
from lsp_server.verify.checks import CheckResult
from lsp_server.verify.jail import NO_SANDBOX
from lsp_server.verify.verifier import Verification
from tests.fake_backend import FakeBackend

CODE = "def area(w, h):\n    return w * h\n\n\ndef volume(w, h, d):\n    return area(w, h) * d\n"


class Stale(Exception):
    pass


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / "geo.py").write_text(CODE)
    return tmp_path


def assistant_with(*answers: str, settings: Settings | None = None) -> tuple[Assistant, FakeBackend]:
    backend = FakeBackend(answers=answers)
    return Assistant(settings or Settings(), backend_factory=lambda settings: backend), backend


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


DOCUMENTED = ('def area(w, h):\n    """Multiply the width by the height to get the area of the rectangle."""\n    return w * h\n\n\n'
              "def volume(w, h, d):\n    return area(w, h) * d\n")
REPEATED = "`volume` is described as: Multiply the width by the height to get the area of the rectangle."


def test_an_explanation_that_repeats_a_neighbours_docstring_is_asked_again(workspace: Path):
    (workspace / "geo.py").write_text(DOCUMENTED)
    assistant, backend = assistant_with(REPEATED, "`volume` multiplies the area of the base by the depth d.")
    stages: list[str] = []
    streamed: list[str] = []
    watch = Watch(on_text=streamed.append, on_stage=stages.append)
    result = explain.run(assistant, explain.prepare(assistant, Ask(workspace / "geo.py", DOCUMENTED, (5, 0), (5, 0), [workspace])), watch, CancelToken())
    assert result.text.startswith("`volume` multiplies") and not result.repeats
    assert [r.seed for r in backend.requests] == [None, run.AGAIN_SEED + 1]
    assert "answer 1 repeats a docstring; asking again (2 of 2)" in stages
    assert "Answer 1 repeats a docstring of" in "".join(streamed)


def test_an_explanation_that_still_repeats_one_says_so(workspace: Path):
    (workspace / "geo.py").write_text(DOCUMENTED)
    assistant, backend = assistant_with(REPEATED)
    result = explain.run(assistant, explain.prepare(assistant, Ask(workspace / "geo.py", DOCUMENTED, (5, 0), (5, 0), [workspace])), Watch(), CancelToken())
    assert result.repeats == "`area` (geo.py (current file))" and len(backend.requests) == 2


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


BROKEN = "```python\ndef volume(w, h, d)\n    return\n```"
GOOD = "```python\ndef volume(w, h, d):\n    base = area(w, h)\n    return base * d\n```"


def test_a_refused_answer_is_followed_by_a_fresh_sample_that_can_pass(workspace: Path):
    assistant, backend = assistant_with(BROKEN, GOOD)
    stages: list[str] = []
    streamed: list[str] = []
    result = edit.run(assistant, edit.prepare(assistant, "refactor", ask(workspace)), Watch(on_text=streamed.append, on_stage=stages.append), CancelToken())
    assert result.refused is None and "base = area(w, h)" in result.proposal.new_text
    assert [r.seed for r in backend.requests] == [None, run.AGAIN_SEED + 1], "the second answer is sampled with another seed"
    assert [r.temperature for r in backend.requests] == [0.2, run.AGAIN_TEMPERATURE], "and hotter than the first"
    assert "answer 1 refused; asking again (2 of 2)" in stages
    assert "Answer 1 was not offered: the model's answer no longer defines `volume`. Answer 2 of 2" in "".join(streamed), "the stream says why it starts again"


def test_answers_stop_at_verify_attempts(workspace: Path):
    for changes, asked in (({}, 2), ({"verify": {"attempts": 3}}, 3), ({"verify": {"attempts": 1}}, 1), ({"model": {"temperature": 0}}, 2)):
        settings, problems = settings_from_mapping(changes)
        assert not problems
        assistant, backend = assistant_with(BROKEN, settings=settings)
        result = edit.run(assistant, edit.prepare(assistant, "refactor", ask(workspace)), Watch(), CancelToken())
        assert result.refused is not None and len(backend.requests) == asked, changes


def test_a_refusal_that_is_not_the_answers_fault_is_not_asked_again():
    no_sandbox = Verification(False, [CheckResult("parse", True), CheckResult("tests", False, f"tests not run: {NO_SANDBOX}")])
    timed_out = Verification(False, [CheckResult("tests", False, "the tests timed out")])
    switched_off = Verification(False, [CheckResult("tests", False, "verify.runTests is off")])
    failing = Verification(False, [CheckResult("tests", False, "1 test(s) that passed before now fail: tests/test_geo.py::test_volume")])
    broken = Verification(False, [CheckResult("parse", False, "geo.py:1: invalid syntax")])
    assert [outcome.answer_at_fault(v) for v in (no_sandbox, timed_out, switched_off, failing, broken)] == [False, False, False, True, True]
    assert not outcome.answer_at_fault(Verification(True, [CheckResult("parse", True)]))
