"""What the jail costs per verification run: the same one-test pytest run, jailed and not.

Not pass/fail: prints numbers. Both runs go through ``run_tests`` as verification does; the
unjailed one is what ``verify.allowUnsandboxed`` gives on a machine without a jail.

Usage: python -m tests.benchmarks.bench_jail [--runs N]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path

from lsp_server.config import VerifySettings
from lsp_server.verify import checks, jail


def workspace(root: Path) -> Path:
    (root / "tests").mkdir()
    (root / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    (root / "tests" / "test_calc.py").write_text("from calc import add\n\ndef test_add():\n    assert add(1, 2) == 3\n")
    return root


def seconds_per_run(root: Path, runs: int, jailed: bool) -> list[float]:
    found = jail.find_jail()
    checks.find_jail = (lambda: found) if jailed else (lambda: jail.Jail(None, reason="benchmark"))
    settings = VerifySettings(allow_unsandboxed=not jailed)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        run = checks.run_tests(root, ["tests/test_calc.py"], settings)
        times.append(time.perf_counter() - started)
        assert run.count("passed") == 1, run.output
    return times


def startup_seconds(runs: int) -> tuple[list[float], list[float]]:
    """``python -c pass`` bare and in the jail, interleaved: the jail's fixed cost without pytest's noise."""
    import subprocess
    import sys

    found = jail.find_jail()
    jailed_command = [found.bwrap, *jail._isolation_args(), *jail._filesystem_args([]), "--", sys.executable, "-c", "pass"]
    bare, jailed = [], []
    for _ in range(runs):
        for command, times in (([sys.executable, "-c", "pass"], bare), (jailed_command, jailed)):
            started = time.perf_counter()
            subprocess.run(command, check=True)
            times.append(time.perf_counter() - started)
    return bare, jailed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}; jail: {jail.find_jail().describe()}")
    with tempfile.TemporaryDirectory() as folder:
        root = workspace(Path(folder))
        seconds_per_run(root, 2, True)  # warm the page cache for both
        rows = {}
        for jailed in (False, True, False, True):  # interleaved: a slow minute hits both
            rows.setdefault(jailed, []).extend(seconds_per_run(root, args.runs // 2 or 1, jailed))
    plain, jailed = statistics.median(rows[False]), statistics.median(rows[True])
    print(f"verification's pytest run of one test, {len(rows[True])} runs each: median unjailed {plain * 1000:.0f} ms, "
          f"jailed {jailed * 1000:.0f} ms, difference {(jailed - plain) * 1000:+.0f} ms")
    bare, inside = startup_seconds(args.runs * 3)
    print(f"python -c pass, {len(bare)} runs each: median bare {statistics.median(bare) * 1000:.1f} ms, "
          f"jailed {statistics.median(inside) * 1000:.1f} ms, jail cost {(statistics.median(inside) - statistics.median(bare)) * 1000:+.1f} ms")


if __name__ == "__main__":
    main()
