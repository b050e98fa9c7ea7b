"""A refused proposal in the user's words: what was tried, why it was not offered, what to do.

The verifier speaks of its own files (a shadow copy, a ``*_gemma_probe.py`` beside the user's test
module) and of ruff codes; the user has ``tests/test_recurring.py`` and wants to know that the
tests use ``Decimal`` without importing it. Every client (the code action's title, the document,
window/showMessage) takes its wording from here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from lsp_server.verify.checks import CheckResult, junit_key
from lsp_server.verify.jail import NO_SANDBOX
from lsp_server.verify.select import is_test_file
from lsp_server.verify.verifier import Verification

PROBE_SUFFIX = "_gemma_probe"
"""Generated tests are verified in ``<module>_gemma_probe.py`` beside an existing test module."""
ACTIONS = {"refactor": "Refactor", "generate_tests": "Generate tests for", "implement": "Implement", "fix_test": "Fix failing test", "change": "Change"}
LINT = re.compile(r"(?P<file>[^:;]+?):(?P<row>\d+): (?P<code>[A-Z]+\d+) (?P<message>[^;]+)")
PARSE = re.compile(r"^(?P<file>[^:]+):(?P<row>\d+): (?P<message>.*)$")
NAME = re.compile(r"`([^`]+)`")
RETRY = "Retry the action: the model may answer differently."
SANDBOX = "Install bubblewrap (see `gemma-lsp doctor`), or set `verify.allowUnsandboxed` if you accept running model-written code with your rights; then retry."


@dataclass(frozen=True)
class Outcome:
    tried: str
    """What was tried: "Refactor `apply_discount`"."""
    path: str
    """The user's file the edit was for, relative to the workspace."""
    reason: str
    """Why it was not offered, one line in terms of the user's code."""
    remedies: tuple[str, ...]
    """What the user can do."""
    details: tuple[str, ...]
    """Every check, named and with the user's file names, for whoever wants the details."""

    @property
    def title(self) -> str:
        """The code action title's tail: "not offered: <reason>"."""
        return f"not offered: {self.reason}"

    @property
    def message(self) -> str:
        """window/showMessage text for a client that cannot open the document."""
        return f"{self.tried}: the proposal failed verification and was not offered: {self.reason}. " + " ".join(self.remedies)


def probe_path(test_file: Path) -> Path:
    return test_file.with_name(f"{test_file.stem}{PROBE_SUFFIX}.py")


def user_path(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.name


def in_user_terms(text: str, path: str) -> str:
    """``text`` with the verifier's names of the user's file (the probe, the shadow copy's path,
    the bare file name) replaced by ``path`` (relative to the workspace)."""
    text = re.sub(rf"(\w+){PROBE_SUFFIX}\b", r"\1", text)
    name = Path(path).name
    return re.sub(rf"(?<![\w./\\-])(?:[\w./\\-]*[/\\])?{re.escape(name)}\b", path, text)


def refused(verification: Verification, action: str, target: str, path: Path, root: Path, code: str = "") -> Outcome:
    """The outcome of a proposal for ``target`` in ``path`` that failed ``verification``;
    ``code``: the proposed code, empty when the answer held none to keep."""
    shown = user_path(path, root)
    failed = next((c for c in verification.checks if not c.ok), CheckResult("verification", False, "it did not pass"))
    reason, extra = _reason(failed, verification, shown, is_test_file(path))
    reason = in_user_terms(reason, shown)
    first = failed.name == "tests" and (NO_SANDBOX in failed.detail or "verify.runTests" in failed.detail)
    remedies = [*extra, RETRY] if first else [RETRY]
    if code.strip():
        remedies += ["Copy the proposal from **The proposed code** below.", "Open it as an unsaved draft: the code block under **The proposed code**."]
    remedies += [] if first else extra
    remedies.append("Open the checks' details: **What was checked** below.")
    details = tuple(in_user_terms(f"{c.name}: {'ok' if c.ok else 'failed'}" + (f" ({c.detail})" if c.detail else ""), shown) for c in verification.checks)
    return Outcome(f"{ACTIONS.get(action, action)} `{target}`", shown, reason, tuple(remedies), details)


def answer_at_fault(verification: Verification) -> bool:
    """Whether a refusal is about what the answer holds (another answer may pass), not about this
    machine or the settings: tests that could not run, were switched off or ran out of time."""
    tests = next((c for c in verification.checks if c.name == "tests" and not c.ok), None)
    if tests is None:
        return not verification.ok
    return _not_the_answers(tests.detail) is None


def _reason(check: CheckResult, verification: Verification, path: str, tests: bool) -> tuple[str, list[str]]:
    """(why, remedies particular to it) for the first failed check."""
    detail, who = check.detail, "the tests" if tests else "the new code"
    if check.name == "parse":
        match = PARSE.match(detail)
        return (f"the answer is not valid Python (line {match['row']}: {match['message']})" if match else f"the answer is not valid Python ({detail})"), []
    if check.name == "lint":
        return _lint(detail, who)
    if check.name == "shape":
        return _shape(detail), []
    if check.name == "tests":
        return _tests(detail, verification)
    return detail or f"the {check.name} check failed", []


def _lint(detail: str, who: str) -> tuple[str, list[str]]:
    problems = list(LINT.finditer(detail))
    if not problems:
        return f"the lint check could not run ({detail})", ["Check the ruff install with `gemma-lsp doctor`."]
    undefined = list(dict.fromkeys(n for p in problems if p["code"] == "F821" for n in NAME.findall(p["message"])[:1]))
    if undefined:
        names = _names(undefined)
        verb = "use" if who == "the tests" else "uses"
        one = len(undefined) == 1
        return f"{who} {verb} {names} without importing or defining {'it' if one else 'them'}", [f"After copying the proposal, add the import of {names} yourself."]
    first = problems[0]
    code, message, row = first["code"], first["message"].strip(), first["row"]
    if code.startswith("E9"):
        return f"the answer is not valid Python (line {row}: {message})", []
    if code == "F822":
        return f"{who} list{'' if who == 'the tests' else 's'} in `__all__` a name never defined ({message})", []
    if code == "F823":
        return f"{who} use{'' if who == 'the tests' else 's'} a local name before assigning it (line {row}: {message})", []
    if code.startswith("F63"):
        return f"{who} hold{'' if who == 'the tests' else 's'} a check that is always true or invalid (line {row}: {message})", []
    if code.startswith("F7"):
        return f"{who} put{'' if who == 'the tests' else 's'} a statement where Python does not allow it (line {row}: {message})", []
    return f"ruff reports {code} at line {row}: {message}", []


def _shape(detail: str) -> str:
    for prefix, wording in (
        ("the answer holds no replacement for ", "the model's answer did not contain a new version of {}"),
        ("the answer is not an implementation of ", "the model's answer did not contain an implementation of {}"),
        ("the answer does not define ", "the model's answer no longer defines {}"),
    ):
        if detail.startswith(prefix):
            names = detail.removeprefix(prefix).removesuffix(" any more").split(", ")
            return wording.format(_names(names, "or"))
    return detail


def _not_the_answers(detail: str) -> tuple[str, list[str]] | None:
    """(why, remedies) when the tests check failed because of this machine or the settings (no
    sandbox, tests switched off, too slow), not because of what the answer holds; else None."""
    if detail.startswith("tests not run") and NO_SANDBOX in detail:
        return f"the tests could not run: there is {NO_SANDBOX}", [SANDBOX]
    if detail.startswith("verify.runTests is off"):
        return "the fix could not be checked: running tests is off (verify.runTests)", ["Turn on `verify.runTests`, then retry."]
    if detail == "the tests timed out":
        return "the tests did not finish in time", ["If your tests are slow, raise `verify.timeoutSeconds`, then retry."]
    return None


def _tests(detail: str, verification: Verification) -> tuple[str, list[str]]:
    setting_or_machine = _not_the_answers(detail)
    if setting_or_machine:
        return setting_or_machine
    broken = re.match(r"(\d+) test\(s\) that passed before now fail: (.*)", detail)
    if broken:
        return f"{broken[1]} of the tests that passed before now fail: {', '.join(_short(t) for t in broken[2].split(', '))}", []
    still = re.match(r"(?P<test>\S+) still does not pass \((?P<outcome>[^)]*)\)", detail)
    if still:
        message = _message_of(verification, still["test"])
        return (f"the test still fails: {message}" if message else f"the test `{_short(still['test'])}` still does not pass ({still['outcome']})"), []
    if detail.startswith("the tests did not run: "):
        lines = [line for line in detail.splitlines() if line.strip()]
        return f"the tests could not be collected: {lines[-1].strip() if lines else 'pytest gave no reason'}", []
    if detail == "no generated test was left to offer":
        return "none of the generated tests was left once the broken ones were dropped", []
    triaged = re.match(r"0 generated tests pass, 0 fail .*, (\d+) dropped", detail)
    if triaged:
        return f"none of the generated tests could be kept ({triaged[1]} dropped: broken, or testing nothing of the target)", []
    failing = re.match(r"\d+ tests passed, (\d+) failed", detail)
    if failing:
        return f"{failing[1]} of the tests fail with the change", []
    return detail, []


def _message_of(verification: Verification, node: str) -> str:
    run = verification.tests
    if run is None:
        return ""
    key = junit_key(node)
    message = next((m for n, m in run.messages.items() if n == key or n.startswith(key + "[")), "")
    return " ".join(message.split())[:200]


def _short(test: str) -> str:
    return test.rsplit("::", 1)[-1]


def _names(names: list[str], joiner: str = "and") -> str:
    quoted = [f"`{n.strip()}`" for n in names if n.strip()]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} {joiner} {quoted[-1]}"


def fenced(text: str, language: str = "") -> str:
    """``text`` as a Markdown code block whose fence no run of backticks in it can close (a
    model's answer often holds a fence of its own: the rest would render as headings and tables)."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text}\n{fence}\n"


def markdown(outcome: Outcome, code: str, answer: str, language: str = "python") -> str:
    """The refused-edit document: the verdict, what to do, the proposed code (``language``: a
    ``diff`` for a change across files), the checks, the answer."""
    text = (
        f"{outcome.tried}: the proposed edit to `{outcome.path}` failed verification and was not offered: {outcome.reason}.\n\n"
        "**What you can do:**\n\n" + "".join(f"- {r}\n" for r in outcome.remedies)
    )
    if code.strip():
        text += "\n## The proposed code\n\n" + fenced(code.strip("\n"), language)
    text += "\n## What was checked\n\n" + "".join(f"- {d}\n" for d in outcome.details)
    return text + "\n## The model's answer\n\n" + fenced(answer.rstrip())
