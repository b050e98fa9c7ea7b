"""Model faults against the real server process: a clear message, static features keep working,
and the next request works once the cause is gone.

Faults: a corrupt GGUF (the bundled model cut short; a GGUF magic followed by junk), a model
larger than this machine's memory (a sparse copy of the bundled model's header, grown past the
RAM size: the server refuses it before llama.cpp maps it), a generation that would exceed the
context window, and a team server (llama-cpp-python's own server with the bundled model) killed
while it streams an answer. (GPU out-of-memory at load: tests/robustness/test_model_load.py.)
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from lsp_server.model.load import memory_bytes
from lsp_server.model.resolve import bundled_model_path
from tests.robustness.rawclient import (
    RawClient,
    code_actions,
    hover_text,
    open_document,
    start_server,
)

WORKSPACE = Path(__file__).resolve().parents[1] / "e2e" / "workspace"
REQUEST_FAILED = -32803
OPTIONS = {"model": {"n_ctx": 1024, "max_tokens": 8, "temperature": 0.0}, "hover": {"explain": False}, "index": {"git": False, "watch": False, "cache": False}}


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    target = tmp_path / "workspace"
    shutil.copytree(WORKSPACE, target)
    return target


def explain(client: RawClient, uri: str, line: int, character: int = 4, timeout: float = 300) -> dict:
    at = {"line": line, "character": character}
    return client.request("workspace/executeCommand", {"command": "gemma-lsp.explain", "arguments": [uri, {"start": at, "end": at}]}, timeout=timeout)


def shown(client: RawClient) -> list[str]:
    return [n["params"]["message"] for n in client.notifications if n["method"] == "window/showMessage"]


def assert_static_features_work(client: RawClient, uri: str) -> None:
    titles = [a["title"] for a in code_actions(client, uri, 12, 8)["result"]]
    assert "Gemma: Explain Cart.total" in titles
    assert "def total(self, discount=0):" in hover_text(client, uri, 12, 8)


def use_model(client: RawClient, path: Path | str, **model) -> None:
    client.notify("workspace/didChangeConfiguration", {"settings": {"gemmaLsp": {**OPTIONS, "model": {**OPTIONS["model"], "path": str(path), **model}}}})


def damaged_models(folder: Path) -> dict[str, tuple[Path, str]]:
    """name -> (model file, what the message must say)."""
    with bundled_model_path().open("rb") as source:
        head = source.read(4 << 20)
    truncated, junk, huge = folder / "truncated.gguf", folder / "junk.gguf", folder / "huge.gguf"
    truncated.write_bytes(head)
    junk.write_bytes(b"GGUF" + os.urandom(4096))
    huge.write_bytes(head[: 1 << 20])
    with huge.open("r+b") as handle:
        handle.truncate(memory_bytes()[0] * 2)  # sparse: no disk used, the size exceeds the RAM
    return {
        "truncated": (truncated, "llama.cpp could not load"),
        "junk header": (junk, "llama.cpp could not load"),
        "larger than memory": (huge, "cannot run here"),
    }


def test_corrupt_and_too_big_models_then_a_good_one(workspace: Path, tmp_path: Path):
    """One server: each bad model in turn (settings pushed as an editor does), then the bundled one."""
    client = start_server(workspace, {**OPTIONS, "model": {**OPTIONS["model"], "n_gpu_layers": 0}})
    try:
        uri = open_document(client, workspace / "shop" / "cart.py")
        for name, (model, expected) in damaged_models(tmp_path).items():
            use_model(client, model, n_gpu_layers=0)
            failed = explain(client, uri, 12)
            assert failed["error"]["code"] == REQUEST_FAILED and expected in failed["error"]["message"], (name, failed)
            assert any(expected in m and model.name in m for m in shown(client)), name
            assert_static_features_work(client, uri)
            again = explain(client, uri, 12)  # the same fault again: the same answer, no crash, no hang
            assert again["error"]["message"] == failed["error"]["message"], name
        use_model(client, bundled_model_path())
        assert "error" not in explain(client, uri, 12)
        assert any(m.startswith("Cart.total:") for m in shown(client))
        assert_static_features_work(client, uri)
    finally:
        client.close()


def test_a_generation_longer_than_the_context_window(workspace: Path):
    """A 128-token window, a target of thousands of tokens and max_tokens past the window."""
    big = workspace / "shop" / "big.py"
    body = "".join(f"    total = total + price_{i % 9} * {i} - len(str(total))\n" for i in range(400))
    big.write_text(f"def long_sum(total):\n{body}    return total\n")
    client = start_server(workspace, {**OPTIONS, "model": {"n_ctx": 128, "max_tokens": 4000, "temperature": 0.0}})
    try:
        uri = open_document(client, big)
        reply = explain(client, uri, 0)
        assert "error" not in reply, reply
        assert any(m.startswith("long_sum:") for m in shown(client))
        cart = open_document(client, workspace / "shop" / "cart.py")
        assert "error" not in explain(client, cart, 12)
        assert_static_features_work(client, cart)
    finally:
        client.close()


def start_engine(port: int, log: Path) -> subprocess.Popen:
    from tests.e2e.conftest import REMOTE_MODEL, wait_for_engine

    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(bundled_model_path()), "--model_alias", REMOTE_MODEL,
               "--host", "127.0.0.1", "--port", str(port), "--chat_format", "gemma", "--n_ctx", "2048"]
    with log.open("a") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    wait_for_engine(process, f"http://127.0.0.1:{port}/v1", log)
    return process


def test_a_team_server_that_dies_mid_stream(workspace: Path, tmp_path: Path):
    pytest.importorskip("llama_cpp.server.app", reason="needs llama-cpp-python's server extra: pip install -e '.[test]'")
    from tests.e2e.conftest import free_port, remote_options

    port, log = free_port(), tmp_path / "engine.log"
    engine = start_engine(port, log)
    options = remote_options(f"http://127.0.0.1:{port}/v1")
    options["model"]["max_tokens"] = 300  # long enough to be killed mid-answer
    client = start_server(workspace, {**options, "hover": {"explain": False}, "index": {"git": False, "watch": False, "cache": False}})
    streaming = threading.Event()
    client.on_notification = lambda message: message["method"] == "gemma/stream" and message["params"]["delta"] and streaming.set()
    try:
        uri = open_document(client, workspace / "shop" / "cart.py")
        at = {"line": 12, "character": 8}
        msg_id = client.send_request("workspace/executeCommand", {"command": "gemma-lsp.explain", "arguments": [uri, {"start": at, "end": at}]})
        assert streaming.wait(120), "the answer never started streaming"
        engine.send_signal(signal.SIGKILL)
        engine.wait(timeout=20)
        reply = client.wait_response(msg_id, timeout=120)
        if "error" not in reply:  # the answer was complete before the kill reached the socket
            pytest.skip("the engine finished the answer before it was killed")
        assert reply["error"]["code"] == REQUEST_FAILED, reply
        message = reply["error"]["message"]
        assert "broke during the answer" in message or "could not reach" in message.lower(), message
        assert_static_features_work(client, uri)
        refused = explain(client, uri, 12)  # still down: a clear message, quickly
        assert refused["error"]["code"] == REQUEST_FAILED and "127.0.0.1" in refused["error"]["message"], refused
        engine = start_engine(port, log)  # back up: the next request works
        assert "error" not in explain(client, uri, 12)
        assert_static_features_work(client, uri)
    finally:
        client.on_notification = None
        client.close()
        engine.terminate()
        engine.wait(timeout=20)
