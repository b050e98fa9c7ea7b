"""Index speed: cold build vs raw tree-sitter parsing, warm start, one edit, one context request.

Not pass/fail: prints numbers. Default tree: this interpreter's standard library plus the
site-packages of the running venv. Everything in one run, so the raw parse throughput (the
ceiling) and our numbers share the machine's load.

CPU seconds are printed next to wall seconds: on a shared machine a process gets a fraction of a
core, and CPU time says what the work itself costs.

The bar for a cold build on 2 cores: at least one core's raw parse speed (issue 21; it replaces
the earlier target of 80% of the raw parse on 2 processes).

Usage: python -m tests.benchmarks.bench_index [ROOT ...] [--workers N] [--edits N]
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import os
import platform
import statistics
import sysconfig
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import tree_sitter

from lsp_server.config import IndexSettings
from lsp_server.context.build import build_context
from lsp_server.context.resolve import Resolver
from lsp_server.index.discovery import discover
from lsp_server.index.python_symbols import PYTHON
from lsp_server.index.workspace import WorkspaceIndex


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the parsing workers)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def raw_parse(files) -> tuple[int, float, float]:
    """Bytes, seconds and CPU seconds to read and parse every file on one core, extracting nothing."""
    parser = tree_sitter.Parser(PYTHON)
    total, started, cpu = 0, time.perf_counter(), cpu_seconds()
    for item in files:
        with open(item.name, "rb") as handle:
            data = handle.read()
        parser.parse(data)
        total += len(data)
    return total, time.perf_counter() - started, cpu_seconds() - cpu


def parse_only(batch: list[str]) -> int:
    """Read and parse the files of one batch, extracting nothing (runs in a worker process)."""
    parser, total = tree_sitter.Parser(PYTHON), 0
    for name in batch:
        with open(name, "rb") as handle:
            data = handle.read()
        parser.parse(data)
        total += len(data)
    return total


def raw_parse_parallel(files, workers: int) -> tuple[int, float, float]:
    """Bytes, wall seconds and CPU seconds to read and parse every file with ``workers`` spawned
    processes, fed batches the way the index feeds its own (process start-up included, as in a cold
    build): what this machine's cores really do together, shared caches and memory bandwidth included."""
    names = [item.name for item in files]
    batches = [names[i : i + 48] for i in range(0, len(names), 48)]
    started, cpu = time.perf_counter(), cpu_seconds()
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        total = sum(pool.map(parse_only, batches, chunksize=4))
    return total, time.perf_counter() - started, cpu_seconds() - cpu


def timed_build(roots, cache_dir: Path, workers: int):
    """The index, its build report, and the CPU seconds the build took (workers included)."""
    index = WorkspaceIndex(roots, IndexSettings(workers=workers), cache_dir=cache_dir)
    cpu = cpu_seconds()
    report = index.build()
    return index, report, cpu_seconds() - cpu


def edit_latencies(index: WorkspaceIndex, path: Path, edits: int) -> tuple[list[float], list[float]]:
    """Milliseconds (wall, CPU) per keystroke-sized change of an open document (re-parse + facts)."""
    text = path.read_text()
    index.update_text(path, text)
    middle = len(text) // 2
    times, cpu = [], []
    for i in range(edits):
        changed = text[:middle] + "x" * (i + 1) + text[middle:]
        started, started_cpu = time.perf_counter(), time.process_time()
        index.update_text(path, changed)
        times.append(1000 * (time.perf_counter() - started))
        cpu.append(1000 * (time.process_time() - started_cpu))
    index.update_text(path, text)
    return times, cpu


def context_latencies(index: WorkspaceIndex, path: Path, requests: int) -> list[float]:
    text, resolver = path.read_text(), Resolver(index)
    facts = index.facts(path)
    lines = [d.start_line for d in facts.definitions if d.kind in ("function", "method")][:requests]
    times = []
    for line in lines:
        started = time.perf_counter()
        build_context(path, text, (line, 0), (line, 0), index, 8192, resolver=resolver)
        times.append(1000 * (time.perf_counter() - started))
    return times


def p99(values: list[float]) -> float:
    return sorted(values)[max(0, int(len(values) * 0.99) - 1)] if values else 0.0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("roots", nargs="*", type=Path)
    parser.add_argument("--workers", type=int, default=0, help="0: one per core")
    parser.add_argument("--edits", type=int, default=50)
    args = parser.parse_args(argv)
    roots = args.roots or [Path(sysconfig.get_paths()["stdlib"]), Path(sysconfig.get_paths()["purelib"])]
    cores = len(os.sched_getaffinity(0))
    print(f"machine: {platform.processor() or platform.machine()}, {cores} cores usable, load {os.getloadavg()[0]:.1f}; python {platform.python_version()}")
    found, _ = discover(roots)
    for item in found:  # into the page cache first: every pass below then reads from memory
        with open(item.name, "rb") as handle:
            handle.read()
    size, raw_seconds, raw_cpu = raw_parse(found)
    print(f"tree: {', '.join(map(str, roots))}: {len(found)} files, {size / 1e6:.0f} MB")
    print(f"raw tree-sitter parse, 1 core: {raw_seconds:.1f} s = {size / 1e6 / raw_seconds:.1f} MB/s; CPU {raw_cpu:.1f} s = {size / 1e6 / raw_cpu:.1f} MB per CPU-second")
    workers = args.workers or cores
    _, parallel_seconds, parallel_cpu = raw_parse_parallel(found, workers)
    print(f"raw tree-sitter parse, {workers} processes: {parallel_seconds:.1f} s = {size / 1e6 / parallel_seconds:.1f} MB/s "
          f"({raw_seconds / parallel_seconds:.2f}x one process); CPU {parallel_cpu:.1f} s")
    with tempfile.TemporaryDirectory() as cache:
        index, cold, cold_cpu = timed_build(roots, Path(cache), args.workers)
        cold_rate, one_core = cold.bytes / 1e6 / cold.seconds, size / 1e6 / raw_seconds
        print(f"cold index, {workers} workers: {cold.seconds:.1f} s = {cold_rate:.1f} MB/s = {cold_rate / one_core:.2f}x one core's raw parse (the bar: 1.00), "
              f"{100 * cold_rate / (size / 1e6 / parallel_seconds):.0f}% of the raw parse on {workers} processes, {100 * cold_rate / (one_core * workers):.0f}% of raw parse "
              f"on 1 x {workers}; {cold.symbols} definitions, {len(cold.skipped)} skipped")
        print(f"  CPU {cold_cpu:.1f} s (workers included) = {cold.bytes / 1e6 / cold_cpu:.1f} MB per CPU-second: "
              f"{100 * (cold.bytes / cold_cpu) / (size / raw_cpu):.0f}% of the raw parse's throughput per core; "
              f"{cold_cpu / parallel_cpu:.2f}x the CPU of the raw parse on {workers} processes")
        # A warm start is a new server process: drop the cold index first, so the collector does
        # not walk its 800K definitions while the warm one is built.
        del index
        gc.collect()
        index, warm, warm_cpu = timed_build(roots, Path(cache), args.workers)
        print(f"warm start: {warm.seconds:.2f} s, CPU {warm_cpu:.2f} s ({warm.from_cache} from cache, {warm.parsed} parsed)")
        print(f"load average now {os.getloadavg()[0]:.1f}")
    sample = max((f for f in found if f.size < 200_000), key=lambda f: f.size)
    typical = sorted(found, key=lambda f: f.size)[len(found) // 2]
    for label, item in ((sample.path.name, sample), (f"a median-size file {typical.path.name}", typical)):
        edits, cpu = edit_latencies(index, item.path, args.edits)
        print(f"one edit of {label} ({item.size // 1000} KB): median {statistics.median(edits):.1f} ms, p99 {p99(edits):.1f} ms; "
              f"CPU median {statistics.median(cpu):.1f} ms, p99 {p99(cpu):.1f} ms")
    hub = next((f.path for f in found if f.path.name == "_client.py" and f.path.parent.name == "httpx"), sample.path)
    requests = context_latencies(index, hub, 20)
    print(f"build_context (8K budget) in {hub.parent.name}/{hub.name}: median {statistics.median(requests):.0f} ms, max {max(requests):.0f} ms")


if __name__ == "__main__":
    main()
