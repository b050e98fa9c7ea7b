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
    print(f"runs each: {len(rows[True])}")
    print(f"median unjailed: {plain * 1000:.0f} ms, jailed: {jailed * 1000:.0f} ms, jail cost: {(jailed - plain) * 1000:+.0f} ms per run")


if __name__ == "__main__":
    main()
