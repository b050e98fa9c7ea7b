"""``gemma-lsp change``: locations, and the proposal printed as text and JSON (scripted answers)."""

from pathlib import Path

import pytest

from lsp_server.actions import change
from lsp_server.cli.change import as_dict, human, locate, target_range
from lsp_server.config import IndexSettings, Settings, VerifySettings
from lsp_server.errors import PositionOutOfRange
from lsp_server.assistant import Assistant
from lsp_server.pipeline.run import Ask, pack
from tests.fake_backend import FakeBackend

SOURCE = "LIMIT = 3\n\n\ndef allowed(n):\n    return n <= LIMIT\n"


def proposal_for(root: Path, answer: str) -> change.ChangeProposal:
    path = root / "rules.py"
    path.write_text(SOURCE)
    assistant = Assistant(Settings(index=IndexSettings(cache=False)), backend_factory=lambda settings: FakeBackend())
    assistant.index_for([root]).build()
    packed = pack(assistant, Ask(path, SOURCE, (4, 0), (4, 0), [root]), "raise the limit")
    return change.propose(packed, "raise the limit", answer, "search_replace", root, VerifySettings(run_tests=False))


def test_locations_with_and_without_a_line():
    assert locate("a/b.py") == (Path("a/b.py"), None, 0)
    assert locate("a/b.py:3") == (Path("a/b.py"), 2, 0)
    assert target_range("x = 1\ny = 2\n", None, 0) == ((0, 0), (2, 0))  # the whole file, selected
    with pytest.raises(PositionOutOfRange):
        target_range("x = 1\n", 5, 0)


def test_a_verified_proposal_prints_its_diff_and_checks(tmp_path):
    proposal = proposal_for(tmp_path, "rules.py\n<<<<<<< SEARCH\nLIMIT = 3\n=======\nLIMIT = 5\n>>>>>>> REPLACE\n")
    assert proposal.ok, proposal.verification.summary()
    text = human(proposal, tmp_path)
    assert "--- a/rules.py\n+++ b/rules.py\n" in text and "-LIMIT = 3\n+LIMIT = 5\n" in text
    assert "Verified: parsed, lint clean" in text and "(nothing was written)" in text
    data = as_dict(proposal, tmp_path)
    assert data["offered"] and data["files"][0]["path"] == "rules.py" and not data["files"][0]["create"]
    assert data["refused"] is None and data["target"] == "allowed"


def test_a_refused_proposal_says_why_and_shows_the_answer(tmp_path):
    proposal = proposal_for(tmp_path, "rules.py\n<<<<<<< SEARCH\nLIMIT = 3\n=======\nLIMIT = (\n>>>>>>> REPLACE\n")
    text = human(proposal, tmp_path)
    assert "Not offered: the answer is not valid Python" in text and "The model's answer:\nrules.py\n<<<<<<< SEARCH" in text
    data = as_dict(proposal, tmp_path)
    assert not data["offered"] and data["refused"]["reason"].startswith("the answer is not valid Python")
