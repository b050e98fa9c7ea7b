"""textDocument/codeAction latency through the real server on a large workspace.

Not pass/fail: prints numbers. Starts ``gemma-lsp serve`` (the real pygls server process) with the
given roots as workspace folders (default: this interpreter's standard library and the running
venv's site-packages, the tree bench_index measures), as VS Code would (pytest-lsp's client and
VS Code's capabilities), and asks for the code actions at the start of every function of sampled
files: first while the index is building or loading in the background, then once it is done. The
latency is the round trip seen by the client, JSON-RPC over stdio included. The server's index
cache goes to a temporary directory (XDG_CACHE_HOME), cold unless --cache-home names one already filled.

Usage: python -m tests.benchmarks.bench_code_action [ROOT ...] [--files N] [--cache-home DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import statistics
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from lsprotocol import types
from pytest_lsp import client_capabilities, make_test_lsp_client

from lsp_server.index.discovery import discover
from lsp_server.index.python_symbols import parse_python


def p99(values: list[float]) -> float:
    return sorted(values)[max(0, int(len(values) * 0.99) - 1)] if values else 0.0


def targets(roots: list[Path], files: int, seed: int = 11) -> list[tuple[Path, str, list[int]]]:
    """Sampled files of the tree with the first line of each of their functions."""
    found, _ = discover(roots)
    rng = random.Random(seed)
    rng.shuffle(found)
    chosen = []
    for item in found:
        try:
            text = item.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        lines = [d.start_line for d in parse_python(text).definitions if d.kind in ("function", "method")]
        if lines:
            chosen.append((item.path, text, lines[:40]))
        if len(chosen) == files:
            break
    return chosen


async def ask(client, sample: list[tuple[Path, str, list[int]]]) -> list[float]:
    times = []
    for path, text, lines in sample:
        uri = path.as_uri()
        client.text_document_did_open(types.DidOpenTextDocumentParams(types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)))
        for line in lines:
            position = types.Position(line=line, character=0)
            params = types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri), range=types.Range(start=position, end=position),
                context=types.CodeActionContext(diagnostics=[]),
            )
            started = time.perf_counter()
            actions = await client.text_document_code_action_async(params)
            times.append(1000 * (time.perf_counter() - started))
            if not actions:
                raise RuntimeError(f"no code actions at {path}:{line + 1}")
        client.text_document_did_close(types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(uri=uri)))
    return times


async def run(roots: list[Path], files: int, cache_home: str) -> None:
    sample = targets(roots, files)
    client = make_test_lsp_client()

    def index_done() -> bool:  # pytest-lsp's client keeps the $/progress values per token
        return any(isinstance(v, types.WorkDoneProgressEnd) for values in client.progress_reports.values() for v in values)

    await client.start_io(sys.executable, "-m", "lsp_server", "serve", env={**os.environ, "XDG_CACHE_HOME": cache_home})
    folders = [types.WorkspaceFolder(uri=r.as_uri(), name=r.name) for r in roots]
    await client.initialize_session(types.InitializeParams(capabilities=client_capabilities("visual-studio-code"), root_uri=roots[0].as_uri(), workspace_folders=folders))
    started = time.perf_counter()
    during = await ask(client, sample)
    building = not index_done()
    while not index_done():
        await asyncio.sleep(0.2)
    print(f"index ready {time.perf_counter() - started:.1f} s after initialized")
    after = await ask(client, sample)
    await client.shutdown_session()
    count = sum(len(lines) for _, _, lines in sample)
    label = "while the index was building" if building else "(the index was ready before they ended)"
    print(f"codeAction, {count} requests in {len(sample)} files, {label}: median {statistics.median(during):.1f} ms, p99 {p99(during):.1f} ms, max {max(during):.1f} ms")
    print(f"codeAction, the same requests on the built index: median {statistics.median(after):.1f} ms, p99 {p99(after):.1f} ms, max {max(after):.1f} ms")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("roots", nargs="*", type=Path)
    parser.add_argument("--files", type=int, default=25)
    parser.add_argument("--cache-home", help="XDG_CACHE_HOME for the server (default: a temporary directory, so the first start is cold)")
    args = parser.parse_args(argv)
    roots = args.roots or [Path(sysconfig.get_paths()["stdlib"]), Path(sysconfig.get_paths()["purelib"])]
    print(f"machine: {platform.processor() or platform.machine()}, {len(os.sched_getaffinity(0))} cores usable, load {os.getloadavg()[0]:.1f}; python {platform.python_version()}")
    if args.cache_home:
        asyncio.run(run(roots, args.files, args.cache_home))
        return
    with tempfile.TemporaryDirectory() as cache_home:
        asyncio.run(run(roots, args.files, cache_home))


if __name__ == "__main__":
    main()
