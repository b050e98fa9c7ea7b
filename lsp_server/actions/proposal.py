"""A proposed edit, already verified: what to change, where, and what the verifier said."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from lsp_server.actions import rewrite
from lsp_server.config import VerifySettings
from lsp_server.context.target import Target
from lsp_server.verify import repair
from lsp_server.verify.checks import CheckResult, lint_text
from lsp_server.verify.shadow import FileChange
from lsp_server.verify.verifier import OnStage, Verification, verify_change


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
    imports: str = ""
    """Import lines inserted before line ``imports_line`` (above ``start_line``): the imports of
    names the new code uses that the file did not bind (verify/repair.py)."""
    imports_line: int = 0


def propose_rewrite(
    file_text: str, target: Target, code: str, root: Path, tests: list[str], settings: VerifySettings, answer: str,
    must_pass: tuple[str, ...] = (), unsaved: tuple[FileChange, ...] = (), known: Mapping[str, str] | None = None,
    on_stage: OnStage | None = None,
) -> Proposal:
    """Replace the target's lines with ``code`` and verify that the tests passing before still pass
    (and that the tests in ``must_pass`` pass now). With ``known`` (name -> import line), a name
    the new code uses undefined that ``known`` resolves gets its import added above the target."""
    new_file = rewrite.replace_lines(file_text, target, code)
    imports, at = missing_imports(file_text, new_file, target, known) if known else ("", 0)
    if imports:
        lines = new_file.splitlines(keepends=True)
        new_file = "".join(lines[:at]) + imports + "".join(lines[at:])
    verification = verify_change(root, [FileChange(target.path, new_file)], tests, settings, keep_passing=True, must_pass=must_pass, unsaved=unsaved, on_stage=on_stage)
    if imports:
        verification.checks.append(CheckResult("imports", True, f"added {'; '.join(imports.splitlines())}"))
    new_code = rewrite.reindent(code, rewrite.indentation_of(file_text, target.start_line))
    return Proposal(target.path, target.start_line, target.end_line + 1, new_code, False, verification, answer, imports, at)


def missing_imports(file_text: str, new_file: str, target: Target, known: Mapping[str, str]) -> tuple[str, int]:
    """The import lines ``new_file`` needs for its undefined names, and the line of ``file_text``
    they go before; ("", 0) when none resolves or they would not land above the target."""
    problems = lint_text(new_file, target.path.name)
    if isinstance(problems, str) or not problems:
        return "", 0
    lines = repair.import_lines_for(repair.undefined_names(problems), known, new_file)
    at = repair.insertion_line(file_text)
    if not lines or at is None or at >= target.start_line:  # an insertion where the replaced lines start would be a second edit there
        return "", 0
    return "".join(f"{line}\n" for line in lines), at
