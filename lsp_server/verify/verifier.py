"""Verify a proposed change, and triage generated tests, in a shadow copy of the workspace."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from lsp_server.config import VerifySettings
from lsp_server.index.python_symbols import parse_python
from lsp_server.verify import exercise, repair, salvage
from lsp_server.verify.checks import CheckResult, TestRun, check_lint, check_syntax, lint_text, run_tests, sandbox_refusal
from lsp_server.verify.salvage import Subject
from lsp_server.verify.shadow import FileChange, ShadowWorkspace

OnStage = Callable[[str], None]
"""Told what verification is doing ("verifying: running the tests of 2 files"), for progress."""


def _say(on_stage: OnStage | None, message: str) -> None:
    if on_stage is not None:
        on_stage(message)


def _files(count: int) -> str:
    return f"{count} test file{'' if count == 1 else 's'}"


@dataclass
class Verification:
    ok: bool
    checks: list[CheckResult] = field(default_factory=list)
    tests: TestRun | None = None

    def summary(self) -> str:
        """What was checked, for the action's title or the edit's annotation."""
        parts = []
        for check in self.checks:
            if check.name == "tests":
                parts.append(check.detail)
            elif check.ok:
                parts.append({"parse": "parsed", "lint": "lint clean"}.get(check.name) or check.detail or check.name)
            else:
                parts.append(f"{check.name} failed: {check.detail}")
        return ", ".join(parts)


def verify_change(
    root: Path,
    changes: list[FileChange],
    tests: list[str],
    settings: VerifySettings,
    keep_passing: bool = False,
    must_pass: tuple[str, ...] = (),
    unsaved: tuple[FileChange, ...] = (),
    on_stage: OnStage | None = None,
) -> Verification:
    """Parse, lint and (when enabled) run ``tests`` with ``changes`` applied; ``on_stage`` is
    told each step (for progress).

    With ``keep_passing`` (refactors) the tests run first on the unchanged code too, and the
    change passes only if every test that passed before still passes. ``must_pass`` (node ids,
    e.g. the test a fix is for) must pass afterwards, whatever they did before. ``unsaved`` (the
    editor's text of other open files) is in the shadow copy before and after, not checked.
    """
    result = Verification(ok=True)
    _say(on_stage, "verifying: parsing and linting")
    for change in changes:
        result.checks.append(check_syntax(change.new_text, change.path.name))
    if not all(c.ok for c in result.checks):
        return _failed(result)
    changed = {c.path.resolve() for c in changes}
    unsaved = tuple(u for u in unsaved if u.path.resolve() not in changed)
    with ShadowWorkspace(root, [*unsaved, *changes]) as shadow:
        result.checks.append(check_lint(shadow.path, [shadow.mirror(c.path) for c in changes]))
        if not result.checks[-1].ok:
            return _failed(result)
        if must_pass and not settings.run_tests:
            result.checks.append(CheckResult("tests", False, "verify.runTests is off, so the fix could not be checked"))
            return _failed(result)
        if not (settings.run_tests and tests):
            return result
        refusal = sandbox_refusal(settings)
        if refusal:  # checked statically only; a fix that must make a test pass cannot be shown to
            result.checks.append(CheckResult("tests", not must_pass, refusal))
            result.ok = not must_pass
            return result
        _say(on_stage, f"verifying: running {_files(len(tests))} on the proposal")
        result.tests = run_tests(shadow.path, tests, settings)
    if keep_passing:
        _say(on_stage, f"verifying: running {_files(len(tests))} on your code as it is")
    before = _baseline(root, tests, settings, unsaved) if keep_passing else None
    result.checks.append(_judge_tests(result.tests, before, must_pass))
    result.ok = result.checks[-1].ok
    return result


def _baseline(root: Path, tests: list[str], settings: VerifySettings, unsaved: tuple[FileChange, ...] = ()) -> TestRun:
    # A test file the change brings has no "before"; naming it would make pytest run nothing.
    tests = [t for t in tests if (root / t.split("::", 1)[0]).exists()]
    if not tests:
        return TestRun()
    with ShadowWorkspace(root, list(unsaved)) as shadow:
        return run_tests(shadow.path, tests, settings)


def _judge_tests(after: TestRun, before: TestRun | None, must_pass: tuple[str, ...] = ()) -> CheckResult:
    if after.timed_out:
        return CheckResult("tests", False, "the tests timed out")
    still_failing = [t for t in must_pass if not after.passed(t)]
    if still_failing:
        return CheckResult("tests", False, f"{', '.join(still_failing)} still does not pass ({after.outcome_of(still_failing[0]) or 'not run'})")
    fixed = "".join(f"{t} now passes, " for t in must_pass)
    if before is not None:
        broken = [t for t, o in before.outcomes.items() if o == "passed" and after.outcomes.get(t) != "passed"]
        if broken:
            return CheckResult("tests", False, f"{len(broken)} test(s) that passed before now fail: {', '.join(broken[:3])}")
        kept = sum(1 for o in before.outcomes.values() if o == "passed")
        return CheckResult("tests", True, fixed + f"{kept} tests passed before and after" if must_pass else f"{after.count('passed')} tests passed before and after")
    if after.collection_error and not after.outcomes:
        return CheckResult("tests", False, f"the tests did not run: {after.collection_error[-300:]}")
    failed = after.count("failed") + after.count("error")
    return CheckResult("tests", failed == 0, f"{after.count('passed')} tests passed" + (f", {failed} failed" if failed else ""))


def _failed(result: Verification) -> Verification:
    result.ok = False
    return result


@dataclass
class TriagedTests:
    text: str
    """The test module to offer: passing tests kept, failing ones marked xfail, broken ones dropped."""
    kept: list[str]
    xfailed: list[str]
    dropped: list[str]
    verification: Verification


def triage_generated_tests(root: Path, test_file: Path, text: str, settings: VerifySettings, subject: Subject | None = None,
                           on_stage: OnStage | None = None) -> TriagedTests:
    """Run generated tests against the current code and keep what is worth keeping (``on_stage``:
    told each step, for progress).

    With a ``subject`` (what the tests are for), tests that exercise nothing of it are dropped
    and the imports they forgot are added first (``salvage_tests``).
    """
    salvaged = salvage_tests(text, test_file.name, subject)
    text = salvaged.text
    verification = verify_change(root, [FileChange(test_file, text)], [], settings, on_stage=on_stage)
    verification.checks += salvaged.checks(subject.name if subject else "the target")
    names = [d.name for d in parse_python(text).definitions if d.kind == "function" and d.name.startswith("test")]
    if verification.ok and not names:
        verification.checks.append(CheckResult("tests", False, "no generated test was left to offer"))
        return TriagedTests(text, [], [], salvaged.dropped, _failed(verification))
    refusal = sandbox_refusal(settings) if settings.run_tests else None
    if refusal and verification.ok:
        verification.checks.append(CheckResult("tests", True, refusal))
    if not verification.ok or not settings.run_tests or refusal:
        return TriagedTests(text, names if verification.ok else [], [], ([] if verification.ok else names) + salvaged.dropped, verification)
    _say(on_stage, f"verifying: running {len(names)} generated test{'' if len(names) == 1 else 's'}")
    with ShadowWorkspace(root, [FileChange(test_file, text)]) as shadow:
        run = run_tests(shadow.path, [str(shadow.mirror(test_file).relative_to(shadow.path))], settings)
    verification.tests = run
    outcomes = run.by_function()
    kept = [n for n in names if outcomes.get(n) == "passed"]
    xfailed = [n for n in names if outcomes.get(n) == "failed"]
    dropped = [n for n in names if n not in kept and n not in xfailed]
    new_text = mark_tests(text, xfailed={n: run.message_of(n) for n in xfailed}, dropped=set(dropped))
    dropped += salvaged.dropped
    ok = bool(kept or xfailed)
    detail = f"{len(kept)} generated tests pass, {len(xfailed)} fail on the current code (marked xfail: possible bug), {len(dropped)} dropped"
    verification.checks.append(CheckResult("tests", ok, detail))
    verification.ok = ok
    return TriagedTests(new_text, kept, xfailed, dropped, verification)


@dataclass
class Salvaged:
    text: str
    copied: list[str] = field(default_factory=list)
    """Tests dropped for exercising nothing of the subject."""
    broken: list[str] = field(default_factory=list)
    """Tests dropped because lint found them broken."""
    imports: list[str] = field(default_factory=list)
    """Import lines added for names the tests used undefined."""
    shadowing: list[str] = field(default_factory=list)
    """The answer's own copies of imported names, removed (``exercise.shadowing_definitions``)."""

    @property
    def dropped(self) -> list[str]:
        return self.copied + self.broken

    def checks(self, subject: str) -> list[CheckResult]:
        """What was repaired or dropped, for the verification summary."""
        found = []
        if self.shadowing:
            found.append(CheckResult("salvage", True, f"removed the answer's own {', '.join(self.shadowing)} (a copy hiding the imported code)"))
        if self.imports:
            found.append(CheckResult("imports", True, f"added {'; '.join(self.imports)}"))
        if self.copied:
            found.append(CheckResult("salvage", True, f"dropped {', '.join(self.copied)}: tests nothing of {subject} (copied example?)"))
        if self.broken:
            found.append(CheckResult("salvage", True, f"dropped {len(self.broken)} tests that lint found broken: {', '.join(self.broken)}"))
        return found


def salvage_tests(text: str, file_name: str, subject: Subject | None = None) -> Salvaged:
    """The complete, lint-clean part of a generated test module, and what was done to get it.

    An answer cut off mid-test keeps the tests before it; a copy of an imported definition is
    removed (the tests would exercise the copy); with a ``subject``, a test that
    exercises nothing of it is dropped and a name the subject's imports resolve is imported;
    a test still using a name nobody defined is dropped alone. A module that cannot be salvaged
    is returned as it was, for the verification to report why.
    """
    complete = salvage.complete_part(text)
    if not complete:
        return Salvaged(text)
    shadowing = exercise.shadowing_definitions(complete)
    complete = exercise.without_definitions(complete, set(shadowing)) if shadowing else complete
    copied = exercise.unexercised_tests(complete, subject.names) if subject else []
    if copied:
        complete = mark_tests(complete, xfailed={}, dropped=set(copied))
    problems = lint_text(complete, file_name)
    undefined = repair.undefined_names(problems) if subject and not isinstance(problems, str) else set()
    complete, added = repair.add_imports(complete, undefined, subject.imports) if undefined else (complete, [])
    if added:
        problems = lint_text(complete, file_name)
    if isinstance(problems, str) or not problems:
        return Salvaged(complete, copied, [], added, shadowing)
    broken = salvage.tests_holding_lines(complete, {p["location"]["row"] for p in problems})
    if not broken:  # a problem outside the tests (an import, a helper): not one test's fault
        return Salvaged(complete, copied, [], added, shadowing)
    return Salvaged(mark_tests(complete, xfailed={}, dropped=broken), copied, sorted(broken), added, shadowing)


def mark_tests(text: str, xfailed: dict[str, str], dropped: set[str]) -> str:
    """Mark failing test functions xfail (with the failure as the reason) and remove dropped ones."""
    parsed = parse_python(text)
    source = parsed.source
    pieces: list[bytes] = []
    cursor = 0
    for definition in parsed.definitions:
        if definition.kind != "function" or definition.name not in xfailed and definition.name not in dropped:
            continue
        pieces.append(source[cursor : definition.start_byte])
        if definition.name in xfailed:
            reason = " ".join(xfailed[definition.name].split())[:200] or "fails on the current code"
            pieces.append(f"@pytest.mark.xfail(reason={('possible bug: ' + reason)!r}, strict=False)\n".encode())
            pieces.append(source[definition.start_byte : definition.end_byte])
        cursor = definition.end_byte
    pieces.append(source[cursor:])
    result = b"".join(pieces).decode("utf-8")
    if dropped and result.strip():  # a dropped last test leaves its blank lines behind
        result = result.rstrip("\n") + "\n"
    if xfailed and "import pytest" not in result:
        result = "import pytest\n" + result
    return result
