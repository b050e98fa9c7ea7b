"""Fix failing test: run the test, read its traceback, explain the root cause, propose a fix.

The test runs in the sandboxed runner (verify.checks: timeout, memory limit, no network) with
``--tb=short``; ``parse_pytest_output`` turns pytest's report into a Failure (exception, message,
frames). The code under test is what the traceback passed through in workspace files, then what
the test imports and calls. The model answers with the root cause and one replacement function
(for the code under test, or for the test when the test is wrong); the replacement is offered
only if, in a shadow copy, the failing test now passes and the tests that passed still pass.
"""

from __future__ import annotations

import dataclasses
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lsp_server.actions import outcome, prompts
from lsp_server.actions.generate_tests import module_name
from lsp_server.actions.proposal import Proposal, propose_rewrite
from lsp_server.config import VerifySettings
from lsp_server.context.pack import ContextItem, PackedContext
from lsp_server.context.target import Target
from lsp_server.index.python_symbols import parse_python
from lsp_server.index.symbols import Definition
from lsp_server.model.backend import GenerationRequest, Message
from lsp_server.privacy.secrets import is_secret
from lsp_server.verify.checks import CheckResult, run_tests
from lsp_server.verify.select import is_test_file, tests_importing
from lsp_server.verify.shadow import SKIPPED_DIRS, FileChange, ShadowWorkspace
from lsp_server.verify.verifier import OnStage, Verification

ReadText = Callable[[Path], "str | None"]
PYTEST_ARGS = ("--tb=short", "-rfE")
SECTION = re.compile(r"^_{3,} (.+?) _{3,}$")
FRAME = re.compile(r"^(?P<path>\S[^:]*?):(?P<line>\d+): in (?P<function>\S+)$")
EXCEPTION = re.compile(r"^(?P<type>[A-Za-z_][\w.]*)(?::\s?(?P<message>.*))?$")
MAX_FUNCTION_LINES = 80
MAX_FAILURE_CHARS = 1500
MAX_TESTS = 20


@dataclass(frozen=True)
class Frame:
    path: str
    """As pytest prints it: relative to the project for workspace files, else absolute."""
    line: int
    """1-based."""
    function: str
    source: str = ""

    @property
    def in_workspace(self) -> bool:
        parts = Path(self.path).parts
        return not Path(self.path).is_absolute() and bool(parts) and parts[0] != ".." and not any(p in SKIPPED_DIRS for p in parts)


@dataclass
class Failure:
    test: str
    """The pytest node id."""
    outcome: str
    """"failed", "error", "passed", "skipped", "timed out" or "not run"."""
    exception: str = ""
    """The exception type (AssertionError for a failed ``assert``)."""
    message: str = ""
    frames: list[Frame] = field(default_factory=list)
    text: str = ""
    """pytest's report of this test (the section of its output), for the prompt and the user."""

    @property
    def workspace_frames(self) -> list[Frame]:
        return [f for f in self.frames if f.in_workspace]


def is_test_function(path: Path, definition: Definition | None) -> bool:
    """A ``test*`` function or method in a test file: what Fix failing test is offered on."""
    return definition is not None and definition.kind in ("function", "method") and definition.name.startswith("test") and is_test_file(path)


def test_at(path: Path, text: str, line: int) -> Definition | None:
    """The test function around ``line`` (the outermost ``test*`` one: a nested helper is not a test)."""
    parsed = parse_python(text)
    around = [d for d in parsed.definitions if d.kind in ("function", "method") and d.contains_line(line)]
    return next((d for d in sorted(around, key=lambda d: d.start_line) if is_test_function(path, d)), None)


def node_id(path: Path, root: Path, qualname: str) -> str:
    relative = path.resolve().relative_to(root.resolve()).as_posix()
    return "::".join([relative, *qualname.split(".")])


def parse_pytest_output(output: str, node: str) -> Failure:
    """The failure of test ``node`` in pytest's ``--tb=short`` output (outcome "passed" if absent)."""
    wanted = node.split("::", 1)[1].replace("::", ".") if "::" in node else node
    file_part = node.split("::", 1)[0]
    for name, lines in _sections(output):
        base = name.split("[", 1)[0]
        is_error = name.startswith("ERROR ")
        if base == wanted or (is_error and name.endswith((" " + wanted, " " + file_part, " " + wanted.rsplit(".", 1)[-1]))):
            return _failure_of(node, "error" if is_error else "failed", lines)
    summary = re.search(rf"^(FAILED|ERROR) {re.escape(node)}(\[\S*\])?( - (?P<message>.*))?$", output, re.MULTILINE)
    if summary:
        return Failure(node, "failed" if summary.group(1) == "FAILED" else "error", message=summary.group("message") or "", text=summary.group(0))
    return Failure(node, "passed")


def _sections(output: str) -> list[tuple[str, list[str]]]:
    sections: list[tuple[str, list[str]]] = []
    for line in output.splitlines():
        header = SECTION.match(line)
        if header:
            sections.append((header.group(1), []))
        elif line.startswith("=====") and sections:
            sections.append(("", []))  # the summary after the last report
        elif sections:
            sections[-1][1].append(line)
    return [(n, lines) for n, lines in sections if n]


def _failure_of(node: str, outcome: str, lines: list[str]) -> Failure:
    body: list[str] = []
    for line in lines:
        if line.startswith("----") and "Captured" in line:
            break  # captured output follows the traceback
        body.append(line)
    frames: list[Frame] = []
    errors: list[str] = []
    for index, line in enumerate(body):
        match = FRAME.match(line)
        if match:
            source = body[index + 1].strip() if index + 1 < len(body) and body[index + 1].startswith(" ") else ""
            frames.append(Frame(match["path"], int(match["line"]), match["function"], source))
        elif line.startswith("E ") or line == "E":
            errors.append(line[1:].strip())
    exception, message = _exception_of(errors)
    return Failure(node, outcome, exception, message, frames, "\n".join(body).strip())


def _exception_of(errors: list[str]) -> tuple[str, str]:
    first = next((e for e in errors if e), "")
    rest = "\n".join(e for e in errors[1:] if e)
    if first.startswith("assert ") or (first == "AssertionError"):
        return "AssertionError", "\n".join(filter(None, [first, rest]))
    match = EXCEPTION.match(first)
    if match and (match["message"] is not None or first[:1].isupper()):
        return match["type"], "\n".join(filter(None, [match["message"] or "", rest]))
    return ("Error" if first else ""), "\n".join(filter(None, [first, rest]))


def run_test(root: Path, changes: list[FileChange], node: str, settings: VerifySettings) -> Failure:
    """Run the test ``node`` in a shadow copy holding the editor's unsaved ``changes``."""
    with ShadowWorkspace(root, changes) as shadow:
        run = run_tests(shadow.path, [node], settings, PYTEST_ARGS)
    if run.not_run:
        return Failure(node, "not run", text=run.not_run)
    if run.timed_out:
        return Failure(node, "timed out", text=f"the test did not finish within {settings.timeout_seconds:g} s")
    outcome = run.outcome_of(node)
    if outcome is None:
        failure = parse_pytest_output(run.output, node)
        return failure if failure.outcome != "passed" else Failure(node, "not run", text=(run.collection_error or run.output)[-MAX_FAILURE_CHARS:])
    if outcome in ("passed", "skipped"):
        return Failure(node, outcome)
    failure = parse_pytest_output(run.output, node)
    failure.outcome = outcome
    return failure


@dataclass(frozen=True)
class Candidate:
    """A function the fix may replace: code under test, or the test itself (last)."""

    path: Path
    definition: Definition
    text: str
    """The definition's code."""
    file_text: str
    reason: str


def candidates(failure: Failure, root: Path, test_path: Path, test_text: str, test: Definition, read_text: ReadText) -> list[Candidate]:
    """Functions in the traceback's workspace frames (deepest first), what the test imports and
    calls, then the test itself."""
    found: list[Candidate] = []
    for frame in reversed(failure.workspace_frames):
        path = root / frame.path
        text = test_text if path.resolve() == test_path.resolve() else read_text(path)
        definition = _definition_at(text, frame.line - 1) if text is not None else None
        if definition is not None and not (path.resolve() == test_path.resolve() and definition.qualname == test.qualname):
            found.append(Candidate(path, definition, parse_python(text).text_of(definition), text, f"in the traceback ({frame.path}:{frame.line})"))
    body = parse_python(test_text).text_of(test)
    for path, name in imported_names(test_text, root):
        text = read_text(path)
        definition = parse_python(text).find(name) if text is not None else None
        if definition is not None and re.search(rf"\b{re.escape(name)}\b", body):
            found.append(Candidate(path, definition, parse_python(text).text_of(definition), text, f"called by the test ({path.name})"))
    found.append(Candidate(test_path, test, body, test_text, "the test"))
    unique: dict[tuple[str, str], Candidate] = {}
    for candidate in found:
        unique.setdefault((str(candidate.path.resolve()), candidate.definition.qualname), candidate)
    return list(unique.values())


def _definition_at(text: str, line: int) -> Definition | None:
    return parse_python(text).innermost_at(line, ("function", "method"))


def imported_names(text: str, root: Path) -> list[tuple[Path, str]]:
    """(workspace file, name) for each ``from module import name`` of a workspace module."""
    found = []
    for imp in parse_python(text).imports:
        path = module_path(root, imp.module) if imp.level == 0 else None
        for name in imp.names if path is not None else ():
            found.append((path, name))
    return found


def module_path(root: Path, dotted: str) -> Path | None:
    base = dotted.replace(".", "/")
    for folder in (root, root / "src"):
        for candidate in (folder / f"{base}.py", folder / base / "__init__.py"):
            if candidate.is_file():
                return candidate
    return None


def with_code_under_test(packed: PackedContext, found: list[Candidate], root: Path) -> PackedContext:
    """The packed context with the code under test in front (the ranking may have missed frames)."""
    shown = {item.title for item in packed.items}
    extra = []
    for candidate in found[:-1]:
        title = f"{_relative(candidate.path, root)}: {candidate.definition.qualname}"
        if title not in shown:
            extra.append(ContextItem(title, _head(candidate.text), candidate.reason, "code under test"))
    return dataclasses.replace(packed, items=[*packed.items, *extra])


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.name


def _head(text: str) -> str:
    lines = text.splitlines()
    return "\n".join(lines[:MAX_FUNCTION_LINES] + (["    ..."] if len(lines) > MAX_FUNCTION_LINES else []))


SYSTEM = (
    "You fix failing Python tests. First name the root cause: the wrong line of logic and why it is "
    "wrong, not the symptom. Then give the fix: one ```python block with the complete corrected "
    "function (the code under test; the test itself only if the test is wrong). Keep its name and signature."
)
FEW_SHOT = '''### Test
def test_average_of_two():
    assert average([2, 4]) == 3
### Failure
tests/test_stats.py:5: in test_average_of_two
calc/stats.py:2: in average
E   ZeroDivisionError: division by zero
### Code under test
def average(values):
    return sum(values) / (len(values) - 2)
### Root cause
`average` divides by `len(values) - 2` instead of by the number of values, so two values divide by zero.
### Fix
def average(values):
    return sum(values) / len(values)
### End

'''


def for_prompt(failure: Failure, root: Path) -> Failure:
    """The failure as the model may read it. When the traceback passes through a secret file
    (privacy.secrets), the exception's message is withheld: it may carry that file's text (a
    connection string, a key). The frames (path, line, function) and the exception type stay;
    the user still reads the whole failure."""
    secret = next((f for f in failure.workspace_frames if is_secret(root / f.path, root)), None)
    if secret is None:
        return failure
    withheld = f"(message withheld: the exception passed through {Path(secret.path).name}, a secret file)"
    frames = [dataclasses.replace(f, source="") for f in failure.frames]
    return dataclasses.replace(failure, message=withheld, frames=frames, text="")


def failure_summary(failure: Failure) -> str:
    frames = "".join(f"{f.path}:{f.line}: in {f.function}\n" for f in failure.frames)
    errors = "".join(f"E   {line}\n" for line in f"{failure.exception}: {failure.message}".strip(": ").splitlines())
    return (frames + errors)[-MAX_FAILURE_CHARS:]


def build_request(packed: PackedContext, failure: Failure, found: list[Candidate], style: str, max_tokens: int, temperature: float) -> GenerationRequest:
    test = found[-1]
    under_test = "\n\n".join(_head(c.text) for c in found[:-1][:2]) or "(the test calls no workspace function)"
    if style == "chat":
        question = (
            prompts.context_markdown(packed)
            + f"The test `{test.definition.qualname}` ({prompts.where(packed)}) fails:\n```python\n{test.text.rstrip()}\n```\n"
            + f"pytest says:\n```\n{failure_summary(failure)}```\nCode under test:\n```python\n{under_test}\n```\n"
            + "Explain the root cause in two sentences, then give the fixed function."
        )
        return GenerationRequest(messages=(Message("system", SYSTEM), Message("user", question)), max_tokens=max_tokens, temperature=temperature)
    text = (
        f"{FEW_SHOT}{prompts.context_completion(packed)}### Test\n{test.text.rstrip()}\n### Failure\n{failure_summary(failure)}"
        f"### Code under test\n{under_test}\n### Root cause\n"
    )
    return GenerationRequest(text=text, max_tokens=max_tokens, temperature=temperature, stop=("### End", "### Test"), keep_head_tokens=len(FEW_SHOT) // 3)


def parse_answer(answer: str) -> tuple[str, str]:
    """(root cause, code) from the model's answer; the code is empty when there is none."""
    if "### Fix" in answer:
        cause, _, code = answer.partition("### Fix")
        return cause.strip(), prompts.extract_code(code.replace("### End", "")).strip("\n")
    match = prompts.CODE_BLOCK.search(answer)
    if match:
        return answer[: match.start()].strip(), match.group(1).strip("\n")
    return answer.strip(), ""


@dataclass
class FixProposal:
    failure: Failure
    root_cause: str
    proposal: Proposal
    candidate: Candidate | None
    """The function the fix replaces; None when the answer replaced none of them."""


def propose(found: list[Candidate], failure: Failure, answer: str, root: Path, settings: VerifySettings, unsaved: tuple[FileChange, ...] = (),
            on_stage: OnStage | None = None) -> FixProposal:
    """Turn the answer into a replacement of one candidate and verify it in a shadow copy that
    also holds the editor's ``unsaved`` files (the test failed on those)."""
    cause, code = parse_answer(answer)
    defined = {d.name for d in parse_python(textwrap.dedent(code)).definitions if d.kind in ("function", "method") and "." not in d.qualname} if code else set()
    chosen = next((c for c in found if c.definition.name in defined), None)
    test = found[-1]
    if chosen is None:
        names = ", ".join(c.definition.name for c in found)
        failed = Verification(False, [CheckResult("shape", False, f"the answer holds no replacement for {names}")])
        return FixProposal(failure, cause, Proposal(test.path, 0, 0, code, False, failed, answer), None)
    target = Target(chosen.path, chosen.definition.qualname, chosen.definition.kind, chosen.definition.start_line, chosen.definition.end_line, chosen.text, chosen.definition)
    tests = _tests_for(root, test.path, chosen.path)
    proposal = propose_rewrite(chosen.file_text, target, code, root, tests, settings, answer, must_pass=(failure.test,), unsaved=unsaved, on_stage=on_stage)
    return FixProposal(failure, cause, proposal, chosen)


def _tests_for(root: Path, test_path: Path, changed: Path) -> list[str]:
    """The failing test's module, and the test modules that import the changed module."""
    own = test_path.resolve().relative_to(root.resolve()).as_posix()
    others = tests_importing(root, module_name(changed, root)) if not is_test_file(changed) else []
    return list(dict.fromkeys([own, *others]))[:MAX_TESTS]


def refusal(fix: FixProposal, root: Path) -> outcome.Outcome:
    """Why the fix was not offered, in the user's words (actions/outcome.py)."""
    test = fix.failure.test.rsplit("::", 1)[-1]
    return outcome.refused(fix.proposal.verification, "fix_test", test, fix.proposal.path, root, fix.proposal.new_text)


def markdown(fix: FixProposal, summary: str, offered: bool, root: Path) -> str:
    """What the user reads: the failure, the root cause, and what happened to the fix."""
    failure, proposal = fix.failure, fix.proposal
    if offered:
        where = f"`{fix.candidate.definition.qualname}` in `{_relative(fix.candidate.path, root)}`"
        verdict = f"The fix to {where} passed verification and is offered as an edit.\n\n**Checks:** {summary}\n"
    else:
        verdict = outcome.markdown(refusal(fix, root), proposal.new_text, proposal.answer)
    return (
        f"# Fix failing test `{failure.test}`\n\n**{failure.exception or 'Failure'}**: {failure.message or '(no message)'}\n\n"
        f"```\n{failure_summary(failure)}```\n\n## Root cause (the model's reading)\n\n{fix.root_cause or '_The model gave no explanation._'}\n\n{verdict}"
    )
