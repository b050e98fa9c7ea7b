"""Stream a generation to the client: ``$/progress`` reports and the ``gemma/stream`` notification.

``gemma/stream`` params: ``{"id", "uri", "title", "delta", "done"}``, and ``"thinking"`` (the
model's thought, apart from the answer in ``delta``) while a thinking model thinks; ``"stage"``
(what is happening, the progress report's words: "loading the model", "reading the prompt: 512
of 1360 tokens", "writing the answer", "verifying: running 3 test files") when it changes; and,
on the last one (``done``), ``"outcome"``: ``"done"``, ``"cancelled"``, ``"failed"`` or
``"rejected"`` (the answer failed verification: see ``verdict``), with ``"message"`` saying why.
A client that knows none of these keys still gets the text and ``done``. The editor plugins
show the text as it arrives, one request at a time (a new id clears the last one's).
Text comes from the model's worker thread and hops onto the event loop here; pieces are batched
so a fast model does not flood the client.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid

from lsprotocol import types

from lsp_server.features.capabilities import work_done_progress_supported
from lsp_server.features.server_api import Server
from lsp_server.model.backend import CancelToken

STREAM_NOTIFICATION = "gemma/stream"
FLUSH_SECONDS = 0.05
OUTCOMES = ("done", "cancelled", "failed", "rejected")
LOADING, READING, WRITING = "loading the model", "reading the prompt", "writing the answer"


def reading(done: int, total: int) -> str:
    return f"{READING}: {done} of {total} tokens"


def outcome_of(message: str) -> str:
    """The end state ``end(message)`` implies when the caller names none."""
    return message if message in OUTCOMES else "done"


class Streamer:
    def __init__(self, ls: Server, title: str, uri: str, cancel: CancelToken, token: types.ProgressToken | None = None) -> None:
        self._ls = ls
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self.title = title
        self.uri = uri
        self.cancel = cancel
        self.id = f"gemma-{next(ls.stream_ids)}"
        self._token = token
        self._pending = ""
        self._thought = ""
        self._text = ""
        self._stage = ""
        self._stage_sent = ""
        self._last_flush = 0.0
        self.prompt_tokens: int | None = None
        """The real prompt's length once the model reads it (``on_prefill``'s total)."""
        self.ended = False

    async def begin(self) -> None:
        """Create a progress token when the client supports it and none came with the request;
        say whether the model must load first (it takes seconds) or reading the prompt starts."""
        ls = self._ls
        if self._token is None and work_done_progress_supported(ls.client_capabilities):
            token = str(uuid.uuid4())
            try:
                await ls.work_done_progress.create_async(token)
                self._token = token
            except Exception:  # a client that refuses progress still gets the notification
                self._token = None
        self._stage = READING if ls.assistant.model_loaded else LOADING
        if self._token is not None:
            ls.work_done_progress.begin(self._token, types.WorkDoneProgressBegin(title=self.title, cancellable=True, message=self._stage, percentage=0))
            future = ls.work_done_progress.tokens.get(self._token)
            if future is not None:
                future.add_done_callback(lambda f: f.cancelled() and self.cancel.cancel())
        self._flush(force=True)  # the first notification: the editors clear the last request's text

    def stage(self, message: str, percentage: int | None = None) -> None:
        """Say what is happening now ("verifying: running 3 test files"); from any thread."""
        if threading.get_ident() != self._loop_thread:
            self._loop.call_soon_threadsafe(self.stage, message, percentage)
            return
        if self.ended or message == self._stage:
            return
        self._stage = message
        self._report(message, percentage)
        self._flush(force=True)

    def on_prefill(self, done: int, total: int) -> None:
        """Called from the model's worker thread after each prefill batch."""
        self._loop.call_soon_threadsafe(self._report_prefill, done, total)

    def _report_prefill(self, done: int, total: int) -> None:
        self.prompt_tokens = self._ls.last_prompt_tokens = total
        if not self._text and not self.ended:
            self._stage = reading(done, total)
            self._report(self._stage, int(100 * done / total) if total else 100)
            self._flush(force=True)

    def _report(self, message: str, percentage: int | None = None) -> None:
        if self._token is not None:
            self._ls.work_done_progress.report(self._token, types.WorkDoneProgressReport(message=message, percentage=percentage))

    def on_text(self, piece: str) -> None:
        """Called from the model's worker thread."""
        self._loop.call_soon_threadsafe(self._add, piece)

    def on_thought(self, piece: str) -> None:
        """Called from the model's worker thread with the thought (never part of the answer)."""
        self._loop.call_soon_threadsafe(self._add, piece, True)

    def _add(self, piece: str, thought: bool = False) -> None:
        if self.ended:
            return
        first = not thought and not self._text and not self._pending  # says "writing" at once
        if thought:
            self._thought += piece
        else:
            self._pending += piece
        if first or time.monotonic() - self._last_flush >= FLUSH_SECONDS:
            self._flush()

    def _flush(self, done: bool = False, force: bool = False, extra: dict | None = None) -> None:
        if not self._pending and not self._thought and not (done or force):
            return
        delta, self._pending = self._pending, ""
        thought, self._thought = self._thought, ""
        if delta and not self._text and self._stage.startswith((READING, LOADING)):
            self._stage = WRITING
            self._report(WRITING, 100)
        self._text += delta
        self._last_flush = time.monotonic()
        params = {"id": self.id, "uri": self.uri, "title": self.title, "delta": delta, "done": done}
        if thought:
            params["thinking"] = thought
        if self._stage != self._stage_sent:  # the same words as the progress report
            params["stage"] = self._stage_sent = self._stage
        params.update(extra or {})
        self._ls.protocol.notify(STREAM_NOTIFICATION, params)

    def end(self, message: str, outcome: str | None = None) -> None:
        """The request is over: ``message`` ends the progress ("120 tokens", "cancelled");
        ``outcome`` (one of OUTCOMES) defaults to what the message says, else "done"."""
        if self.ended:
            return
        self._flush(done=True, extra={"outcome": outcome or outcome_of(message), "message": message})
        self.ended = True
        if self._token is not None:
            self._ls.work_done_progress.end(self._token, types.WorkDoneProgressEnd(message=message))
            self._ls.work_done_progress.tokens.pop(self._token, None)

    def verdict(self, outcome: str, message: str) -> None:
        """After ``end``: what became of the answer ("rejected": it failed verification, and
        why in the user's words), sent as one more ``done`` notification of the same id."""
        extra = {"outcome": outcome, "message": message}
        self._ls.protocol.notify(STREAM_NOTIFICATION, {"id": self.id, "uri": self.uri, "title": self.title, "delta": "", "done": True, **extra})
