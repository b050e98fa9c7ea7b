"""A fake OpenAI-compatible team server on loopback: it answers every completion with a scripted
text and records every prompt it was sent (the witness that no secret reached a backend).

``answer`` is a function of the prompt (the request's JSON body), so one server can answer each
action differently (a test module for Generate tests, a sentence for Explain).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Answer = Callable[[dict], str]


THOUGHT_OPEN, THOUGHT_CLOSE = "<|channel>thought\n", "<channel|>"


class FakeTeamServer:
    def __init__(self, answer: Answer, model: str = "fake-gemma", thought_apart: bool = False) -> None:
        self.answer = answer
        self.model = model
        self.thought_apart = thought_apart
        """Send a scripted answer's leading thought channel as ``reasoning_content`` deltas, as
        servers that parse the thought out do (else it stays inline in the content)."""
        self.prompts: list[str] = []
        """Every prompt text and chat message received, in order."""
        self.bodies: list[dict] = []
        """Every completion request's JSON body, in order."""
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def all_text(self) -> str:
        return "\n".join(self.prompts)

    def __enter__(self) -> "FakeTeamServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(fake: FakeTeamServer):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # quiet test output
            pass

        def do_GET(self) -> None:
            if self.path.endswith("/models"):
                self._json({"object": "list", "data": [{"id": fake.model, "object": "model"}]})
            elif self.path.endswith("/props"):
                self._json({"total_slots": 1, "default_generation_settings": {"n_ctx": 8192}})
            else:
                self._json({"error": "not found"}, 404)

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            if not self.path.endswith("completions"):
                self._json({"error": "not found"}, 404)
                return
            fake.prompts.append(body.get("prompt") or "\n".join(m.get("content", "") for m in body.get("messages", [])))
            fake.bodies.append(body)
            text = fake.answer(body)
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            chat = "messages" in body
            if chat and fake.thought_apart and text.startswith(THOUGHT_OPEN) and THOUGHT_CLOSE in text:
                thought, text = text[len(THOUGHT_OPEN):].split(THOUGHT_CLOSE, 1)
                for piece in (thought[i:i + 40] for i in range(0, len(thought), 40)):
                    self._event({"choices": [{"delta": {"reasoning_content": piece}, "index": 0, "finish_reason": None}]})
            for piece in (text[i:i + 40] for i in range(0, len(text), 40)):
                choice = {"delta": {"content": piece}} if chat else {"text": piece}
                self._event({"choices": [{**choice, "index": 0, "finish_reason": None}]})
            self._event({"choices": [{"index": 0, "finish_reason": "stop", **({"delta": {}} if chat else {"text": ""})}],
                         "usage": {"prompt_tokens": 10, "completion_tokens": 10}})
            self.wfile.write(b"data: [DONE]\n\n")

        def _event(self, obj: dict) -> None:
            self.wfile.write(f"data: {json.dumps(obj)}\n\n".encode())
            self.wfile.flush()

        def _json(self, obj: dict, status: int = 200) -> None:
            data = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler
