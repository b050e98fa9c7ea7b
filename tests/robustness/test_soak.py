"""Soak: many mixed requests against the real server with the bundled model.

The mix: code action lists and hovers (static part) at random places of the fixture workspace's
files, edits, requests cancelled right after they were sent, and every so often an Explain that
runs the real model (some of them cancelled mid-way). After a warm-up (the model loaded, every
file opened, the thread pools filled by a burst of concurrent requests) the server's resident memory, threads and open file
descriptors are read from /proc and compared at the end; code action list latency is printed
for the first and the last quarter (timing numbers are recorded, not asserted).

GEMMA_SOAK_REQUESTS and GEMMA_SOAK_MODEL_CALLS set the size (CI: 400 and 3; the recorded long
run: tests/robustness/long_runs.sh soak).
"""

from __future__ import annotations

import os
import random
import shutil
import time
from pathlib import Path

from tests.robustness.rawclient import RawClient, point, start_server

REQUESTS = int(os.environ.get("GEMMA_SOAK_REQUESTS", "400"))
MODEL_CALLS = int(os.environ.get("GEMMA_SOAK_MODEL_CALLS", "3"))
WORKSPACE = Path(__file__).resolve().parents[1] / "e2e" / "workspace"
OPTIONS = {"model": {"n_ctx": 1024, "max_tokens": 8, "temperature": 0.0}, "hover": {"explain": False}, "index": {"git": False, "watch": False, "cache": False}}
MAX_RSS_GROWTH = 0.10
POOL_HEADROOM = min(32, (os.cpu_count() or 1) + 4)
"""Threads asyncio's default executor may still add after the warm-up: it grows only when all its
threads are busy, which a model call arriving during others' context packing can first cause
late (the 10,000-request run: 9 -> 11). A leak, one thread per request or per model call, would
add hundreds; the count is also sampled each quarter and printed."""


def proc_status(pid: int) -> dict[str, int]:
    fields = {}
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "Threads"):
                fields[key] = int(value.split()[0])
    fields["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    return fields


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


class Soak:
    def __init__(self, client: RawClient, files: list[Path], rng: random.Random) -> None:
        self.client, self.rng = client, rng
        self.docs = {}
        for path in files:
            text = path.read_text()
            self.docs[path.as_uri()] = [text, 1]
            client.notify("textDocument/didOpen", {"textDocument": {"uri": path.as_uri(), "languageId": "python", "version": 1, "text": text}})
        self.action_seconds: list[tuple[int, float]] = []
        self.counts = {"code actions": 0, "hovers": 0, "edits": 0, "cancelled": 0, "model calls": 0, "model cancelled": 0, "errors": 0}

    def place(self) -> tuple[str, dict]:
        uri = self.rng.choice(sorted(self.docs))
        lines = self.docs[uri][0].splitlines() or [""]
        line = self.rng.randrange(len(lines))
        return uri, point(line, self.rng.randint(0, len(lines[line])))

    def burst(self, size: int = 40) -> None:
        """Many requests at once: the server's thread pools grow to their limits now, in the
        warm-up, so that any thread still added later is a leak, not a pool filling up."""
        sent = []
        for _ in range(size):
            uri, at = self.place()
            sent.append(self.client.send_request("textDocument/hover", {"textDocument": {"uri": uri}, "position": at}))
            sent.append(self.client.send_request("textDocument/codeAction", {"textDocument": {"uri": uri}, "range": {"start": at, "end": at}, "context": {"diagnostics": []}}))
        for msg_id in sent:
            self.client.wait_response(msg_id, timeout=300)

    def step(self, number: int) -> None:
        kind = self.rng.random()
        uri, at = self.place()
        if kind < 0.45:
            started = time.perf_counter()
            reply = self.client.request("textDocument/codeAction", {"textDocument": {"uri": uri}, "range": {"start": at, "end": at}, "context": {"diagnostics": []}}, timeout=120)
            self.action_seconds.append((number, time.perf_counter() - started))
            self.counts["code actions"] += 1
            self.counts["errors"] += "error" in reply
        elif kind < 0.8:
            reply = self.client.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": at}, timeout=120)
            self.counts["hovers"] += 1
            self.counts["errors"] += "error" in reply
        elif kind < 0.9:
            self.edit(uri)
        else:
            msg_id = self.client.send_request(self.rng.choice(["textDocument/hover", "textDocument/codeAction"]), {"textDocument": {"uri": uri}, "position": at, "range": {"start": at, "end": at}, "context": {"diagnostics": []}})
            self.client.notify("$/cancelRequest", {"id": msg_id})
            self.client.wait_response(msg_id, timeout=120)
            self.counts["cancelled"] += 1

    def edit(self, uri: str) -> None:
        """Add a comment line, or take the last added one away: the document stays the same size."""
        text, version = self.docs[uri]
        lines = text.splitlines(keepends=True)
        if lines and lines[-1].startswith("# soak"):
            start, new_text, lines = point(len(lines) - 1), "", lines[:-1]
            end = point(len(lines) + 1)
        else:
            start = end = point(len(lines))
            new_text = f"# soak {self.rng.randint(0, 99)}\n"
            lines = [*lines, new_text]
        self.docs[uri] = ["".join(lines), version + 1]
        self.client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version + 1}, "contentChanges": [{"range": {"start": start, "end": end}, "text": new_text}]})
        self.counts["edits"] += 1

    def model_call(self) -> None:
        uri = self.rng.choice(sorted(self.docs))
        lines = self.docs[uri][0].splitlines()
        defs = [i for i, line in enumerate(lines) if line.lstrip().startswith(("def ", "class "))]
        if not defs:
            return
        at = point(self.rng.choice(defs), 6)
        msg_id = self.client.send_request("workspace/executeCommand", {"command": "gemma-lsp.explain", "arguments": [uri, {"start": at, "end": at}]})
        cancel = self.rng.random() < 0.25
        if cancel:
            time.sleep(self.rng.random() * 0.5)
            self.client.notify("$/cancelRequest", {"id": msg_id})
        reply = self.client.wait_response(msg_id, timeout=300)
        self.counts["model calls"] += 1
        if "error" in reply:
            assert cancel and reply["error"]["code"] == -32800, reply
            self.counts["model cancelled"] += 1


def test_soak_mixed_requests(tmp_path: Path):
    workspace = tmp_path / "workspace"
    shutil.copytree(WORKSPACE, workspace)
    files = sorted(p for p in workspace.rglob("*.py"))
    client = start_server(workspace, OPTIONS)
    soak = Soak(client, files, random.Random(8))
    pid = client.process.pid
    warm_up = max(200, REQUESTS // 5)
    model_every = max(1, REQUESTS // max(1, MODEL_CALLS))
    started = time.perf_counter()
    try:
        soak.model_call()  # loads the model before the warm-up ends
        soak.burst()
        threads = []
        for number in range(REQUESTS):
            if number == warm_up:
                warm = proc_status(pid)
            if number >= warm_up and (number - warm_up) % max(1, (REQUESTS - warm_up) // 4) == 0:
                threads.append(proc_status(pid)["Threads"])
            soak.step(number)
            if number % model_every == model_every - 1:
                soak.model_call()
        time.sleep(1.0)  # a thread of the last request may still be ending: a leaked one stays
        end = proc_status(pid)
        assert client.alive()
    finally:
        client.close()
    measured = [(n, s) for n, s in soak.action_seconds if n >= warm_up]
    quarter = max(1, len(measured) // 4)
    early, late = [s for _, s in measured[:quarter]], [s for _, s in measured[-quarter:]]
    growth = (end["VmRSS"] - warm["VmRSS"]) / warm["VmRSS"]
    print(f"\nsoak: {REQUESTS} requests + {soak.counts['model calls']} model calls in {time.perf_counter() - started:.0f} s; {soak.counts}")
    print(f"soak: RSS {warm['VmRSS'] / 1024:.1f} MiB after warm-up -> {end['VmRSS'] / 1024:.1f} MiB at the end ({growth:+.1%}); "
          f"threads {warm['Threads']} -> {end['Threads']} (each quarter: {threads + [end['Threads']]}); open fds {warm['fds']} -> {end['fds']}")
    print(f"soak: code action list p50/p99 first quarter {percentile(early, 0.5) * 1000:.1f}/{percentile(early, 0.99) * 1000:.1f} ms, "
          f"last quarter {percentile(late, 0.5) * 1000:.1f}/{percentile(late, 0.99) * 1000:.1f} ms")
    assert soak.counts["errors"] == 0
    assert growth < MAX_RSS_GROWTH
    assert end["Threads"] <= warm["Threads"] + POOL_HEADROOM
    assert end["fds"] <= warm["fds"]
