"""A minimal JSON-RPC client over the real server's stdio, able to send anything, even garbage."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

SERVER = [sys.executable, "-m", "lsp_server", "serve"]


class RawClient:
    def __init__(self, cwd: Path | None = None, env: dict | None = None, prefix: list[str] = ()) -> None:
        # stderr goes to a file: on a hang, the server's thread stacks (SIGUSR1) are read from it.
        self.stderr = tempfile.TemporaryFile()
        self.process = subprocess.Popen([*prefix, *SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr, cwd=cwd, env=env)
        self._messages: queue.Queue[dict] = queue.Queue()
        self.notifications: list[dict] = []
        self.on_request = None
        """Answers the server's requests (method, params) -> result; None answers null."""
        self.on_notification = None
        """Called on the reader thread with every notification as it arrives."""
        self._early: dict[object, dict] = {}
        """Responses that came while another one was awaited."""
        self._next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        stream = self.process.stdout
        while True:
            length = 0
            while True:
                line = stream.readline()
                if not line:
                    return
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
                if line in (b"\r\n", b"\n"):
                    break
            message = json.loads(stream.read(length))
            if self.on_notification is not None and "method" in message and "id" not in message:
                self.on_notification(message)
            self._messages.put(message)

    def send_bytes(self, data: bytes) -> None:
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def send(self, message: dict | str) -> None:
        body = (message if isinstance(message, str) else json.dumps(message)).encode("utf-8", "surrogatepass")
        self.send_bytes(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def notify(self, method: str, params) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def send_request(self, method: str, params) -> str:
        """Send a request without waiting; returns its id (for ``wait_response``)."""
        self._next_id += 1
        msg_id = f"fuzz-{self._next_id}"
        self.send({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
        return msg_id

    def request(self, method: str, params, timeout: float = 20.0) -> dict:
        """Send a request and wait for its response (answering the server's own requests)."""
        return self.wait_response(self.send_request(method, params), timeout)

    def wait_response(self, msg_id, timeout: float = 20.0) -> dict:
        deadline = time.monotonic() + timeout
        if msg_id in self._early:
            return self._early.pop(msg_id)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no response to {msg_id} within {timeout} s; server: {self.diagnosis()}")
            try:
                message = self._messages.get(timeout=remaining)
            except queue.Empty:
                continue
            if message.get("id") == msg_id and "method" not in message:
                return message
            if "method" not in message and "id" in message:
                self._early[message["id"]] = message
                continue
            self._handle(message)

    def _handle(self, message: dict) -> None:
        """A message that is not an awaited response: answer a server request, keep the rest."""
        if "method" in message and "id" in message:  # a server->client request: answer it
            result = self.on_request(message["method"], message.get("params")) if self.on_request else None
            self.send({"jsonrpc": "2.0", "id": message["id"], "result": result})
        elif "method" in message:
            self.notifications.append(message)
        elif "id" in message:
            self._early[message["id"]] = message

    def serve_until(self, done, timeout: float) -> bool:
        """Answer the server's requests (an editor does so at any time) until ``done()`` or the
        timeout; returns ``done()``."""
        deadline = time.monotonic() + timeout
        while not done() and time.monotonic() < deadline:
            try:
                self._handle(self._messages.get(timeout=0.05))
            except queue.Empty:
                pass
        return done()

    def diagnosis(self) -> str:
        """Whether the server still runs, and the tail of its stderr (with thread stacks if it does)."""
        if self.alive():
            self.process.send_signal(signal.SIGUSR1)
            time.sleep(1.0)
        self.stderr.seek(0)
        tail = self.stderr.read()[-6000:].decode("utf-8", "replace")
        return f"{'running' if self.alive() else f'exited with {self.process.returncode}'}\n{tail}"

    def alive(self) -> bool:
        return self.process.poll() is None

    def close(self) -> None:
        if self.alive():
            try:
                self.request("shutdown", None, timeout=10)
                self.notify("exit", None)
                self.process.wait(timeout=10)
            except Exception:
                self.process.kill()
        self.process.wait(timeout=10)


def start_server(workspace: Path, options: dict, capabilities: dict | None = None, env: dict | None = None, prefix: list[str] = ()) -> RawClient:
    """The real server, initialized on ``workspace`` with ``options`` (initializationOptions)."""
    client = RawClient(env=env, prefix=prefix)
    folder = {"uri": workspace.as_uri(), "name": workspace.name}
    reply = client.request("initialize", {"processId": None, "rootUri": workspace.as_uri(), "workspaceFolders": [folder], "capabilities": capabilities or {}, "initializationOptions": options}, timeout=60)
    assert "result" in reply, reply
    client.notify("initialized", {})
    return client


def open_document(client: RawClient, path: Path, text: str | None = None, version: int = 1) -> str:
    uri = path.as_uri()
    client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": version, "text": path.read_text() if text is None else text}})
    return uri


def point(line: int, character: int = 0) -> dict:
    return {"line": line, "character": character}


def code_actions(client: RawClient, uri: str, line: int, character: int = 0, timeout: float = 30) -> dict:
    at = point(line, character)
    return client.request("textDocument/codeAction", {"textDocument": {"uri": uri}, "range": {"start": at, "end": at}, "context": {"diagnostics": []}}, timeout=timeout)


def hover_text(client: RawClient, uri: str, line: int, character: int, timeout: float = 30) -> str:
    reply = client.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": point(line, character)}, timeout=timeout)
    return ((reply.get("result") or {}).get("contents") or {}).get("value", "")
