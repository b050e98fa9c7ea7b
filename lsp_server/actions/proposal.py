"""A proposed edit, already verified: what to change, where, and what the verifier said."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lsp_server.actions import rewrite
from lsp_server.config import VerifySettings
from lsp_server.context.target import Target
from lsp_server.verify.shadow import FileChange
from lsp_server.verify.verifier import Verification, verify_change


@dataclass
class Proposal:
    path: Path
    start_line: int
    """First line replaced (0-based); equal to ``end_line`` for a pure insertion."""
    end_line: int
    """Lines ``start_line`` up to, not including, ``end_line`` are replaced."""
    new_text: str
    create: bool
    """The file does not exist yet and the edit creates it."""
    verification: Verification
    answer: str
    """The model's raw answer, shown when the proposal failed."""


def propose_rewrite(
    file_text: str, target: Target, code: str, root: Path, tests: list[str], settings: VerifySettings, answer: str,
    must_pass: tuple[str, ...] = (), unsaved: tuple[FileChange, ...] = (),
) -> Proposal:
    """Replace the target's lines with ``code`` and verify that the tests passing before still pass
    (and that the tests in ``must_pass`` pass now)."""
    new_file = rewrite.replace_lines(file_text, target, code)
    verification = verify_change(root, [FileChange(target.path, new_file)], tests, settings, keep_passing=True, must_pass=must_pass, unsaved=unsaved)
    new_code = rewrite.reindent(code, rewrite.indentation_of(file_text, target.start_line))
    return Proposal(target.path, target.start_line, target.end_line + 1, new_code, False, verification, answer)
