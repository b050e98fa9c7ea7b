"""Regression: responses written while llama.cpp loads the model must reach the client.

llama-cpp-python (verbose=False) pointed stdout at /dev/null during a load; every response the
server wrote meanwhile was lost and its request never answered.
"""

from __future__ import annotations

import time
from pathlib import Path

from tests.robustness.rawclient import RawClient

WORKSPACE = Path(__file__).resolve().parents[1] / "e2e" / "workspace"


def test_requests_are_answered_while_the_model_loads():
    client = RawClient()
    try:
        client.request("initialize", {"processId": None, "rootUri": WORKSPACE.as_uri(), "capabilities": {}, "initializationOptions": {"model": {"n_ctx": 2048, "max_tokens": 8}}}, timeout=30)
        client.notify("initialized", {})
        uri = (WORKSPACE / "shop" / "cart.py").as_uri()
        client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": (WORKSPACE / "shop" / "cart.py").read_text()}})
        position = {"line": 12, "character": 8}
        params = {"textDocument": {"uri": uri}, "range": {"start": position, "end": position}, "context": {"diagnostics": []}}
        # The command loads the model; no response to it is awaited yet.
        client.send({"jsonrpc": "2.0", "id": "load", "method": "workspace/executeCommand", "params": {"command": "gemma-lsp.explain", "arguments": [uri, params["range"]]}})
        answered = 0
        for _ in range(30):
            reply = client.request("textDocument/codeAction", params, timeout=10)
            assert "result" in reply
            answered += 1
            time.sleep(0.05)
        assert answered == 30
        assert "error" not in client.wait_response("load", timeout=120)
    finally:
        client.close()
