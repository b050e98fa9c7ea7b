"""Hostile generated tests are held by the jail, as root and as an ordinary user.

CI runs as root; the ordinary-user run drops to a user made for the test (``gemma-jail-test``).
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from lsp_server.config import VerifySettings
from lsp_server.verify import checks, jail
from lsp_server.verify.jail import find_jail
from tests.robustness.jail_attacks import ATTACKS, run_attacks

REPO = Path(__file__).resolve().parents[2]
TEST_USER = "gemma-jail-test"
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the jail is built for Linux")


def small_workspace(root: Path) -> Path:
    workspace = root / "workspace"
    (workspace / "tests").mkdir(parents=True)
    (workspace / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    (workspace / "tests" / "test_calc.py").write_text("from calc import add\n\ndef test_add():\n    assert add(1, 2) == 3\n")
    return workspace


def assert_every_attack_held(found: dict) -> None:
    outcomes, traces = found["outcomes"], found["traces"]
    assert not found["not_run"], found["not_run"]
    assert outcomes.get("test_control") == "passed", f"the attacks did not run: {found['output']}"
    # An attack that leaves a trace outside (a file, a process) is judged by the trace: inside the
    # jail its test may well pass (writing the jail's own /tmp is harmless). The others (reads,
    # connections) are judged by their test, which passes only when the attack worked.
    worked = [name for name, outcome in outcomes.items() if name not in ("test_control", *traces) and outcome == "passed"]
    left = [name for name, trace in traces.items() if trace]
    assert len(outcomes) == ATTACKS.count("def test_"), outcomes
    assert not worked and not left, f"attacks that worked: {worked}; traces left: {left}\n{found['output']}"


def test_the_jail_is_found_here():
    assert find_jail().available, find_jail().reason


def test_every_attack_is_held_for_this_user(tmp_path):
    assert_every_attack_held(run_attacks(small_workspace(tmp_path)))


@pytest.fixture()
def ordinary_user(tmp_path):
    """A non-root user who can run this checkout's interpreter (the test opens /root for passage
    only, x without r, where the interpreter lives under it, and closes it again)."""
    if os.geteuid() != 0:
        pytest.skip("run as an ordinary user already (the test above)")
    try:
        user = pwd.getpwnam(TEST_USER)
    except KeyError:
        subprocess.run(["useradd", "--create-home", TEST_USER], check=True, capture_output=True)
        user = pwd.getpwnam(TEST_USER)
    opened = []
    for folder in [*Path(sys.prefix).resolve().parents, *Path(sys.base_prefix).resolve().parents, *REPO.parents]:
        mode = folder.stat().st_mode
        if not mode & stat.S_IXOTH:
            folder.chmod(mode | stat.S_IXOTH)
            opened.append((folder, mode))
    yield user
    for folder, mode in opened:
        folder.chmod(mode)


@pytest.fixture()
def user_folder(ordinary_user):
    """A folder of the ordinary user's (pytest's tmp_path is root's, closed to others)."""
    folder = Path(tempfile.mkdtemp(prefix="gemma-jail-user-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_every_attack_is_held_for_an_ordinary_user(user_folder, ordinary_user):
    workspace = small_workspace(user_folder)
    for path in [user_folder, *user_folder.rglob("*")]:
        os.chown(path, ordinary_user.pw_uid, ordinary_user.pw_gid)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": ordinary_user.pw_dir, "PYTHONPATH": str(REPO)}

    def become_user() -> None:
        os.setgroups([])
        os.setgid(ordinary_user.pw_gid)
        os.setuid(ordinary_user.pw_uid)

    done = subprocess.run([sys.executable, "-m", "tests.robustness.jail_attacks", str(workspace)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300, preexec_fn=become_user)
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["user"] == ordinary_user.pw_uid
    assert_every_attack_held(found)


def test_with_no_jail_tests_are_not_run_and_the_result_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(jail, "find_jail", lambda: jail.Jail(None, reason="test"))
    monkeypatch.setattr(checks, "find_jail", jail.find_jail)
    workspace = small_workspace(tmp_path)
    run = checks.run_tests(workspace, ["tests/test_calc.py"], VerifySettings())
    assert run.not_run.startswith("tests not run: no sandbox on this machine") and not run.outcomes
    assert checks.sandbox_refusal(VerifySettings()) == "tests not run: no sandbox on this machine"
    allowed = VerifySettings(allow_unsandboxed=True)
    assert checks.sandbox_refusal(allowed) is None
    assert checks.run_tests(workspace, ["tests/test_calc.py"], allowed).count("passed") == 1


def test_a_jailed_run_sees_only_what_it_needs(tmp_path):
    workspace = small_workspace(tmp_path)
    (workspace / "tests" / "test_env.py").write_text(
        "import os\n\ndef test_env():\n"
        "    assert set(os.environ) <= {'PATH', 'HOME', 'TMPDIR', 'LANG', 'USER', 'LOGNAME', 'PYTHONPATH',"
        " 'PYTHONDONTWRITEBYTECODE', 'PYTHONNOUSERSITE', 'PYTEST_VERSION', 'PYTEST_CURRENT_TEST', 'PWD'}, sorted(os.environ)\n"
        f"    assert not os.path.exists({str(Path.home())!r} + '/.bashrc') or {str(Path.home())!r}.startswith('/tmp')\n"
        "    assert os.getpid() < 10  # its own PID namespace\n"
    )
    run = checks.run_tests(workspace, ["tests/test_env.py"], VerifySettings())
    assert run.count("passed") == 1, run.output


def test_doctor_names_the_jail():
    from lsp_server.cli.doctor import sandbox

    assert sandbox().startswith("bubblewrap 0.11.0 (") and "network and PID namespaces" in sandbox()
