"""Hostile generated tests, run the way verification runs them (``run_tests`` in a shadow copy),
and what each would have left on the machine had it got out.

Each attack is a test function that passes only when the attack worked, so an attack is held
when its test does not pass *and* its trace is absent afterwards. ``test_control`` must pass:
a run that did not happen holds nothing. Run as a module (``python -m tests.robustness.jail_attacks
WORKSPACE``) it prints the findings as JSON, so the suite can run it as another user.
"""

from __future__ import annotations

import json
import os
import signal
import site
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

from lsp_server.config import VerifySettings
from lsp_server.verify.checks import run_tests
from lsp_server.verify.shadow import ShadowWorkspace

ATTACKS = """
import os, site, socket, subprocess, sys, time

TOKEN = {token!r}

def test_control():
    assert 1 + 1 == 2

def test_write_in_home():
    open({home_file!r}, "w").write("pwned")

def test_write_in_real_workspace():
    open({workspace_file!r}, "w").write("pwned")

def test_write_through_a_symlink_in_the_workspace():
    open(os.path.join("escape", "pwned-" + TOKEN), "w").write("pwned")

def test_read_a_file_outside_the_workspace():
    assert open({canary_file!r}).read() == {canary_text!r}

def test_read_etc_passwd():
    assert "root" in open("/etc/passwd").read()

def test_read_a_token_from_the_environment():
    assert os.environ["GEMMA_ATTACK_TOKEN"] == TOKEN

def test_connect_to_loopback():
    socket.create_connection(("127.0.0.1", {port}), timeout=3).close()

def test_connect_from_a_child_process():
    code = "import socket; socket.create_connection(('127.0.0.1', {port}), timeout=3).close()"
    assert subprocess.run(["env", "-u", "PYTHONPATH", sys.executable, "-c", code], timeout=20).returncode == 0

def test_leave_a_process_running():
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", TOKEN], start_new_session=True)
    subprocess.Popen("nohup sleep 600 " + TOKEN + "-sh >/dev/null 2>&1 &", shell=True)

def test_write_in_host_tmp():
    open({tmp_file!r}, "w").write("pwned")

def test_plant_a_pth_in_site_packages():
    open(os.path.join({site_packages!r}, "gemma_attack_" + TOKEN + ".pth"), "w").write("import os\\n")

def test_see_host_processes():
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            found.append(open(f"/proc/{{pid}}/cmdline", "rb").read())
        except OSError:
            pass
    assert any(TOKEN.encode() + b"-sentinel" in c for c in found)

def test_kill_a_host_process():
    os.kill({sentinel_pid}, 9)

def test_fork_bomb():
    children = 0
    for _ in range(1000):
        try:
            if os.fork() == 0:
                time.sleep(3)
                os._exit(0)
        except OSError:
            break
        children += 1
    assert children >= 600

def test_use_all_memory():
    block = bytearray(3 * 2**30)
    assert len(block)
"""


class Attacks:
    """The attack module for ``workspace``, the canaries it aims at, and what it left afterwards.

    ``with Attacks(workspace) as attacks:`` sets the canaries up (a file in the home folder, a
    token in the environment, a listening loopback port, a sentinel process) and removes them and
    anything an attack left at the end.
    """

    def __init__(self, workspace: Path) -> None:
        self.workspace = workspace
        self.token = token = uuid.uuid4().hex[:12]
        self.home = Path(os.path.expanduser("~"))
        self.places = {
            "home_file": str(self.home / f"gemma-attack-{token}"),
            "workspace_file": str(workspace / f"pwned-{token}"),
            "canary_file": str(self.home / f".gemma-canary-{token}"),
            "tmp_file": f"/tmp/gemma-attack-{token}",
            "site_packages": site.getsitepackages()[0],
        }
        self.leftovers = [Path(p) for k, p in self.places.items() if k != "site_packages"] + [
            self.home / f"pwned-{token}", Path(self.places["site_packages"]) / f"gemma_attack_{token}.pth", workspace / "escape"]

    def __enter__(self) -> "Attacks":
        Path(self.places["canary_file"]).write_text(f"secret {self.token}")
        (self.workspace / "escape").symlink_to(self.home)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.sentinel = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", f"{self.token}-sentinel"])
        os.environ["GEMMA_ATTACK_TOKEN"] = self.token
        return self

    def module(self) -> str:
        return ATTACKS.format(token=self.token, port=self.listener.getsockname()[1], sentinel_pid=self.sentinel.pid,
                              canary_text=f"secret {self.token}", **self.places)

    def traces(self) -> dict:
        """What the attacks left outside the jail (True: a trace found)."""
        try:
            self.listener.accept()[0].close()
            connected = True
        except OSError:
            connected = False
        return {
            "test_write_in_home": Path(self.places["home_file"]).exists(),
            "test_write_in_real_workspace": Path(self.places["workspace_file"]).exists(),
            "test_write_through_a_symlink_in_the_workspace": (self.home / f"pwned-{self.token}").exists(),
            "test_write_in_host_tmp": Path(self.places["tmp_file"]).exists(),
            "test_plant_a_pth_in_site_packages": (Path(self.places["site_packages"]) / f"gemma_attack_{self.token}.pth").exists(),
            "test_kill_a_host_process": self.sentinel.poll() is not None,
            "test_leave_a_process_running": bool(_processes_naming(self.token, exclude="sentinel")),
            "connections": connected,
        }

    def __exit__(self, *exc) -> None:
        os.environ.pop("GEMMA_ATTACK_TOKEN", None)
        for pid in _processes_naming(self.token, exclude="sentinel"):
            os.kill(pid, signal.SIGKILL)
        self.sentinel.kill()
        self.sentinel.wait()
        self.listener.close()
        for leftover in self.leftovers:
            leftover.unlink(missing_ok=True)


def run_attacks(workspace: Path) -> dict:
    """Run the attacks as verification runs tests (a shadow copy, ``run_tests``): each attack's outcome and trace."""
    test_file = workspace / "tests" / "test_attack.py"
    with Attacks(workspace) as attacks, ShadowWorkspace(workspace) as shadow:
        target = shadow.mirror(test_file)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(attacks.module())
        started = time.perf_counter()
        run = run_tests(shadow.path, [str(target.relative_to(shadow.path))], VerifySettings(timeout_seconds=120))
        seconds = time.perf_counter() - started
        time.sleep(0.5)
        traces = attacks.traces()
    outcomes = {node.rsplit("::", 1)[-1]: outcome for node, outcome in run.outcomes.items()}
    return {"user": os.getuid(), "outcomes": outcomes, "traces": traces, "seconds": seconds,
            "not_run": run.not_run, "output": run.output[-3000:]}


def _processes_naming(token: str, exclude: str) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if token.encode() in command and exclude.encode() not in command:
            found.append(int(pid))
    return found


if __name__ == "__main__":
    print(json.dumps(run_attacks(Path(sys.argv[1]))))
