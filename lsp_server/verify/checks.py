"""The checks a proposed edit must pass: it parses, ruff finds no errors, its tests run green.

Tests run in the jail (jail.py): the shadow copy and a scratch folder writable, nothing else of
the machine visible, no network, every process gone at the end. Where no jail can be made they do
not run, unless the user set ``verify.allowUnsandboxed``.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from pathlib import Path

from lsp_server.config import VerifySettings
from lsp_server.verify.jail import NO_SANDBOX, JailUnavailable, find_jail, minimal_env, run_jailed

LINT_RULES = "E9,F63,F7,F82"  # syntax errors and undefined names: what breaks code, not style
NO_NETWORK_SITE = """
# Only for verify.allowUnsandboxed: in-process best effort; a child process skips it.
import socket
def _refuse(*args, **kwargs):
    raise OSError("network access is disabled while gemma-lsp verifies an edit")
socket.socket.connect = _refuse
socket.socket.connect_ex = _refuse
socket.create_connection = _refuse
"""


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str = ""


@dataclass
class TestRun:
    outcomes: dict[str, str] = field(default_factory=dict)
    """Test node id -> "passed", "failed", "error" or "skipped"."""
    messages: dict[str, str] = field(default_factory=dict)
    """Test node id -> the failure message, for tests that did not pass."""
    timed_out: bool = False
    collection_error: str = ""
    not_run: str = ""
    """Why the tests were not run at all (no sandbox on this machine), else empty."""
    output: str = ""
    """pytest's terminal output (the last 20,000 characters): tracebacks for whoever parses them."""

    def count(self, outcome: str) -> int:
        return sum(1 for value in self.outcomes.values() if value == outcome)

    def by_function(self) -> dict[str, str]:
        """Outcome per test function name (parameters folded: the worst outcome wins)."""
        rank = {"passed": 0, "skipped": 1, "failed": 2, "error": 3}
        result: dict[str, str] = {}
        for node, outcome in self.outcomes.items():
            name = node.rsplit("::", 1)[-1].split("[", 1)[0]
            if rank.get(outcome, 3) >= rank.get(result.get(name, "passed"), 0):
                result[name] = outcome
        return result

    def passed(self, node_id: str) -> bool:
        """Whether the test ``node_id`` (all its parameters) ran and passed."""
        key = junit_key(node_id)
        found = [o for node, o in self.outcomes.items() if node == key or node.startswith(key + "[")]
        return bool(found) and all(o == "passed" for o in found)

    def outcome_of(self, node_id: str) -> str | None:
        """The worst outcome of the test ``node_id`` over its parameters, None when it did not run."""
        key = junit_key(node_id)
        rank = {"passed": 0, "skipped": 1, "failed": 2, "error": 3}
        found = [o for node, o in self.outcomes.items() if node == key or node.startswith(key + "[")]
        return max(found, key=lambda o: rank.get(o, 3), default=None)

    def message_of(self, function: str) -> str:
        return next((m for node, m in self.messages.items() if node.rsplit("::", 1)[-1].split("[", 1)[0] == function), "")


def junit_key(node_id: str) -> str:
    """A pytest node id (``tests/test_a.py::TestX::test_y``) as the junit report names it
    (``tests.test_a.TestX::test_y``)."""
    path, _, rest = node_id.partition("::")
    parts = rest.split("::") if rest else []
    module = path.removesuffix(".py").replace("\\", "/").strip("/").replace("/", ".")
    if not parts:
        return module
    return ".".join([module, *parts[:-1]]) + "::" + parts[-1]


def check_syntax(text: str, name: str) -> CheckResult:
    try:
        compile(text, name, "exec", dont_inherit=True)
    except SyntaxError as exc:
        return CheckResult("parse", False, f"{name}:{exc.lineno}: {exc.msg}")
    except ValueError as exc:  # e.g. null bytes
        return CheckResult("parse", False, f"{name}: {exc}")
    return CheckResult("parse", True)


def lint_problems(root: Path, files: list[Path], timeout: float = 30) -> list[dict] | str:
    """ruff's findings (its JSON: ``code``, ``message``, ``location.row``...) for ``files``, or
    why ruff could not say."""
    command = [sys.executable, "-m", "ruff", "check", "--no-cache", "--isolated", "--select", LINT_RULES, "--output-format", "json", *map(str, files)]
    try:
        done = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"ruff could not run: {exc}"
    try:
        return json.loads(done.stdout or "[]")
    except json.JSONDecodeError:
        return f"ruff failed: {done.stderr.strip()[:500]}"


def lint_text(text: str, file_name: str) -> list[dict] | str:
    """``lint_problems`` for ``text`` alone, written as ``file_name`` in a scratch folder (the
    rules are per file, so no workspace is needed)."""
    with tempfile.TemporaryDirectory(prefix="gemma-lsp-lint-") as scratch:
        path = Path(scratch) / file_name
        path.write_text(text, encoding="utf-8")
        return lint_problems(Path(scratch), [path])


def check_lint(root: Path, files: list[Path], timeout: float = 30) -> CheckResult:
    problems = lint_problems(root, files, timeout)
    if isinstance(problems, str):
        return CheckResult("lint", False, problems)
    if not problems:
        return CheckResult("lint", True)
    lines = [f"{Path(p['filename']).name}:{p['location']['row']}: {p['code']} {p['message']}" for p in problems[:10]]
    return CheckResult("lint", False, "; ".join(lines))


def sandbox_refusal(settings: VerifySettings) -> str | None:
    """Why tests may not run here ("tests not run: no sandbox on this machine"), or None."""
    if settings.allow_unsandboxed or find_jail().available:
        return None
    return f"tests not run: {NO_SANDBOX}"


def run_tests(root: Path, test_ids: list[str], settings: VerifySettings, extra_args: tuple[str, ...] = ()) -> TestRun:
    """Run ``test_ids`` (pytest node ids relative to ``root``, the shadow copy) in the jail.

    ``extra_args`` go to pytest before the ids (``--tb=short`` for a parseable traceback). With no
    jail, the run is refused (``TestRun.not_run``) unless the user allowed unjailed runs.
    """
    with tempfile.TemporaryDirectory(prefix="gemma-lsp-pytest-") as scratch:
        scratch = Path(scratch)
        report = scratch / "report.xml"
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--no-header", f"--junitxml={report}", *extra_args, *test_ids]
        try:
            done = _run_pytest(command, root, scratch, settings)
        except subprocess.TimeoutExpired:
            return TestRun(timed_out=True)
        except JailUnavailable as exc:
            return TestRun(not_run=str(exc))
        run = _read_junit(report) if report.exists() else TestRun()
        run.output = (done.stdout + done.stderr)[-20000:]
        if done.returncode in (2, 3, 4) or (done.returncode != 0 and not run.outcomes):
            run.collection_error = (done.stdout + done.stderr).strip()[-2000:]
        return run


def _run_pytest(command: list[str], root: Path, scratch: Path, settings: VerifySettings) -> subprocess.CompletedProcess:
    home = scratch / "home"
    home.mkdir()
    python_path = [root, root / "src"]
    if find_jail().available or not settings.allow_unsandboxed:
        return run_jailed(command, root, [root, scratch], minimal_env(home, python_path), settings.timeout_seconds, settings.memory_mb)
    # The user accepted the risk (verify.allowUnsandboxed): the old best effort, their own rights.
    (scratch / "sitecustomize.py").write_text(NO_NETWORK_SITE)
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower() and k != "PYTEST_ADDOPTS"}
    env.update(PYTHONPATH=os.pathsep.join(map(str, [scratch, *python_path])), PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=settings.timeout_seconds,
                          preexec_fn=_limit_memory(settings.memory_mb), start_new_session=True)


def _limit_memory(memory_mb: int):
    def apply() -> None:
        limit = memory_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return apply


def _read_junit(report: Path) -> TestRun:
    run = TestRun()
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        classname, name = case.get("classname", ""), case.get("name", "")
        node = f"{classname}::{name}" if classname else name
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = {"failure": "failed"}.get(child.tag, child.tag)
                message = (child.get("message") or child.text or "")[:500]
        run.outcomes[node] = outcome
        if message:
            run.messages[node] = message
    return run
