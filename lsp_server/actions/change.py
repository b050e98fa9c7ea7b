"""Change...: an instruction carried out across files, verified before it is offered.

The steps the pipeline (lsp_server/pipeline/change.py) runs: the context holds the selection,
its related code and what the instruction names (context/mentions.py) ->
``change_prompt.build_request`` -> the model -> ``propose`` (parse the answer in its format,
repair near-misses, apply it to the files' text, add imports a new name needs, verify it all in
the shadow copy: parse, ruff, the tests of every module it touches and the tests it brings) ->
a ``ChangeProposal``; ``edit_triples`` gives each file's (path, old, new, create) for one
WorkspaceEdit, ``refusal`` the words for one that failed. ``followup`` refines the last
proposal with a new instruction.
"""

from __future__ import annotations

import ast
import difflib
from dataclasses import dataclass, field
from pathlib import Path

from lsp_server.actions import change_prompt, outcome
from lsp_server.actions.change_apply import apply_edits
from lsp_server.actions.change_format import parse_answer
from lsp_server.actions.known_names import module_name, package_of, workspace_names
from lsp_server.config import VerifySettings
from lsp_server.context.build import read_file
from lsp_server.context.imports import ReadText
from lsp_server.context.pack import PackedContext
from lsp_server.model.backend import GenerationRequest
from lsp_server.verify import repair
from lsp_server.verify.checks import CheckResult, lint_text
from lsp_server.verify.select import files_importing, is_test_file, tests_importing
from lsp_server.verify.shadow import FileChange
from lsp_server.verify.verifier import OnStage, Verification, verify_change


@dataclass(frozen=True)
class FileEdit:
    path: Path
    old_text: str
    """The file before the change ("" for a new file)."""
    new_text: str
    create: bool


@dataclass
class ChangeProposal:
    instruction: str
    """Every instruction it carries out, the first first ("; "-joined for a follow-up)."""
    files: list[FileEdit]
    verification: Verification
    answer: str
    """The model's raw answer (the last one, for a follow-up)."""
    format: str
    repairs: list[str] = field(default_factory=list)
    packed: PackedContext | None = None
    root: Path | None = None

    @property
    def ok(self) -> bool:
        return self.verification.ok

    def diff(self, root: Path) -> str:
        """Each file's unified diff, paths relative to ``root``."""
        return "".join(file_diff(f, root) for f in self.files)


def propose(packed: PackedContext, instruction: str, answer: str, fmt: str, root: Path, settings: VerifySettings,
            read_text: ReadText = read_file, previous: ChangeProposal | None = None, unsaved: tuple[FileChange, ...] = (),
            on_stage: OnStage | None = None) -> ChangeProposal:
    """Parse, apply and verify ``answer``; on top of ``previous`` when it refines that proposal."""
    root = root.resolve()
    original = _reader(read_text, unsaved)
    current = _reader(original, tuple(FileChange(f.path, f.new_text) for f in previous.files)) if previous else original
    parsed = parse_answer(answer, fmt)
    made = ChangeProposal(_joined(previous, instruction), [], Verification(False), answer, fmt, list(parsed.repairs), packed, root)
    if not parsed.parsed:
        return _refused(made, f"the model's answer held no edit in the {fmt.replace('_', '/')} format")
    applied = apply_edits(parsed.edits, root, packed.target.path.resolve(), _in_play(packed, root), current)
    made.repairs += applied.repairs
    if applied.problems:
        return _refused(made, "; ".join(applied.problems))
    texts = dict(previous_texts(previous)) | {p: t for p, t in applied.texts.items() if t != current(p)}
    texts = {p: t for p, t in texts.items() if t != (original(p) or "")}
    if not texts:
        return _refused(made, "the model's answer changes nothing")
    texts = _with_imports(texts, packed, root, original, made.repairs)
    made.files = [FileEdit(p, original(p) or "", t, original(p) is None) for p, t in sorted(texts.items())]
    unreadable = [f.path for f in made.files if f.create and f.path.exists()]
    if unreadable:  # a secret file (read as missing) or one that is not text: never edited, never created over
        return _refused(made, f"the answer changes {_relative(unreadable[0], root)}, a file gemma-lsp does not read (a secret or not text)")
    tests, must_pass = tests_for(made.files, root)
    made.verification = verify_change(root, [FileChange(f.path, f.new_text) for f in made.files], tests, settings,
                                      keep_passing=True, must_pass=must_pass, unsaved=unsaved, on_stage=on_stage)
    if made.repairs:
        made.verification.checks.append(CheckResult("repairs", True, "; ".join(made.repairs)))
    return made


def _reader(read_text: ReadText, changes: tuple[FileChange, ...]) -> ReadText:
    texts = {c.path.resolve(): c.new_text for c in changes}
    return lambda path: texts[path.resolve()] if path.resolve() in texts else read_text(path)


def _joined(previous: ChangeProposal | None, instruction: str) -> str:
    return f"{previous.instruction}; {instruction}" if previous else instruction


def previous_texts(previous: ChangeProposal | None) -> list[tuple[Path, str]]:
    return [(f.path, f.new_text) for f in previous.files] if previous else []


def _refused(made: ChangeProposal, reason: str) -> ChangeProposal:
    made.verification = Verification(False, [CheckResult("shape", False, reason)])
    return made


def _in_play(packed: PackedContext, root: Path) -> list[Path]:
    """The files the model was shown: the target's and those of the packed context."""
    shown = {row.get("path") for row in packed.manifest if row.get("included") and row.get("path")}
    return [(p if p.is_absolute() else root / p).resolve() for p in map(Path, sorted(shown))]


def _with_imports(texts: dict[Path, str], packed: PackedContext, root: Path, original: ReadText, repairs: list[str]) -> dict[Path, str]:
    """Each changed module with the imports its new code needs and one import resolves: names of
    the module itself, of the other changed modules (a new function used elsewhere), of the
    context's modules, a few standard-library names (verify/repair.py)."""
    changed_names = [(module_name(p, root), n) for p, t in texts.items() if _importable(p, root) and not is_test_file(p) for n in _top_names(t)]
    workspace = [*workspace_names(packed.manifest, root), *changed_names]
    result = {}
    for path, text in texts.items():
        problems = lint_text(text, path.name) if path.suffix == ".py" else []
        names = repair.undefined_names(problems) if isinstance(problems, list) else set()
        if names and _importable(path, root):
            known = repair.known_imports(module_name(path, root), package_of(path, root), text, workspace)
            text, added = repair.add_imports(text, names, known)
            repairs += [f"added `{line}` to {path.relative_to(root).as_posix()}" for line in added]
        result[path] = text
    return result


def _top_names(text: str) -> list[str]:
    """Functions, classes and assigned names at the top level of ``text`` (none if it does not parse)."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return []
    names = [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    targets = [t for n in tree.body if isinstance(n, ast.Assign) for t in n.targets]
    targets += [n.target for n in tree.body if isinstance(n, ast.AnnAssign)]
    return names + [t.id for t in targets if isinstance(t, ast.Name)]


def _importable(path: Path, root: Path) -> bool:
    return path.suffix == ".py" and path.is_relative_to(root)


def tests_for(files: list[FileEdit], root: Path) -> tuple[list[str], tuple[str, ...]]:
    """(the test files to run, the tests that must pass): the tests importing each changed module,
    each changed test file, and every test of a test file the change brings (must pass)."""
    tests: list[str] = []
    must_pass: list[str] = []
    for edit in files:
        relative = edit.path.relative_to(root).as_posix()
        if is_test_file(edit.path):
            tests.append(relative)
            must_pass += [f"{relative}::{name}" for name in test_names(edit.new_text)] if edit.create else []
        elif edit.path.suffix == ".py":
            tests += [t for module in _importers(root, module_name(edit.path, root)) for t in tests_importing(root, module)]
    return list(dict.fromkeys(tests)), tuple(must_pass)


def _importers(root: Path, module: str, depth: int = 3) -> list[str]:
    """``module`` and the workspace modules importing it, up to ``depth`` links away: a changed
    setting in ``config`` is tested by the tests of ``auth``, which reads it."""
    found, frontier = [module], [module]
    for _ in range(depth):
        frontier = [m for name in frontier for m in (module_name(root / f, root) for f in files_importing(root, name, tests=False)) if m not in found]
        found += list(dict.fromkeys(frontier))
    return found


def test_names(text: str) -> list[str]:
    """Node ids (within the file) of the test functions and test methods of ``text``."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return []
    names = [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name.startswith("test")]
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef) and n.name.startswith("Test")):
        names += [f"{cls.name}::{m.name}" for m in cls.body if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef)) and m.name.startswith("test")]
    return names


def edit_triples(proposal: ChangeProposal) -> list[tuple[Path, str, str, bool]]:
    """(path, old text, new text, create) per file: what one multi-file WorkspaceEdit holds
    (a create-file operation and a whole-text insert for ``create``, else a versioned edit)."""
    return [(f.path, f.old_text, f.new_text, f.create) for f in proposal.files]


def file_diff(edit: FileEdit, root: Path) -> str:
    shown = _relative(edit.path, root.resolve())
    before = "/dev/null" if edit.create else f"a/{shown}"
    return "".join(difflib.unified_diff(edit.old_text.splitlines(keepends=True), _ended(edit.new_text).splitlines(keepends=True), before, f"b/{shown}"))


def _ended(text: str) -> str:
    return text if not text or text.endswith("\n") else text + "\n"


def refusal(proposal: ChangeProposal, root: Path) -> outcome.Outcome:
    """The refused proposal in the user's words (``outcome.markdown`` renders it with the diff)."""
    target = proposal.packed.target.path if proposal.packed else (proposal.files[0].path if proposal.files else root)
    failed = next((f.path for f in proposal.files if f.path.name in _failed_detail(proposal)), target)
    return outcome.refused(proposal.verification, "change", _short(proposal.instruction), failed, root, proposal.diff(root))


def _failed_detail(proposal: ChangeProposal) -> str:
    return next((c.detail for c in proposal.verification.checks if not c.ok), "")


def _short(instruction: str, width: int = 60) -> str:
    one = " ".join(instruction.split())
    return one if len(one) <= width else one[: width - 1] + "…"


def followup(previous: ChangeProposal, instruction: str, style: str, max_tokens: int, temperature: float) -> GenerationRequest:
    """The request for a follow-up instruction ("also cover logout"): the previous request's
    context, the files as the previous proposal left them, the new instruction. Its answer goes
    to ``propose(..., previous=previous)``."""
    shown = [(_relative(path, previous.root), text) for path, text in previous_texts(previous)]
    so_far = f"(instruction: {previous.instruction})\n" + change_prompt.files_so_far(shown)
    return change_prompt.build_request(previous.packed, instruction, style, max_tokens, temperature, previous.format, so_far)


def _relative(path: Path, root: Path | None) -> str:
    return path.relative_to(root).as_posix() if root and path.is_relative_to(root) else path.name
