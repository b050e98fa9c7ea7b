"""Stream a generation to the client: ``$/progress`` reports and the ``gemma/stream`` notification.

``gemma/stream`` params: ``{"id", "uri", "title", "delta", "done"}``, and ``"thinking"`` (the
model's thought, apart from the answer in ``delta``) while a thinking model thinks; the editor
plugins show the text as it arrives. Text comes from the model's worker thread and hops onto the event loop here;
pieces are batched so a fast model does not flood the client.
"""

from __future__ import annotations

import asyncio
import time
import uuid

from lsprotocol import types

from lsp_server.features.capabilities import work_done_progress_supported
from lsp_server.features.server_api import Server
from lsp_server.model.backend import CancelToken

STREAM_NOTIFICATION = "gemma/stream"
FLUSH_SECONDS = 0.05


class Streamer:
    def __init__(self, ls: Server, title: str, uri: str, cancel: CancelToken, token: types.ProgressToken | None = None) -> None:
        self._ls = ls
        self._loop = asyncio.get_running_loop()
        self.title = title
        self.uri = uri
        self.cancel = cancel
        self.id = f"gemma-{next(ls.stream_ids)}"
        self._token = token
        self._pending = ""
        self._thought = ""
        self._text = ""
        self._last_flush = 0.0

    async def begin(self) -> None:
        """Create a progress token when the client supports it and none came with the request."""
        ls = self._ls
        if self._token is None and work_done_progress_supported(ls.client_capabilities):
            token = str(uuid.uuid4())
            try:
                await ls.work_done_progress.create_async(token)
                self._token = token
            except Exception:  # a client that refuses progress still gets the notification
                self._token = None
        if self._token is not None:
            ls.work_done_progress.begin(self._token, types.WorkDoneProgressBegin(title=self.title, cancellable=True, message="waiting for the model", percentage=0))
            future = ls.work_done_progress.tokens.get(self._token)
            if future is not None:
                future.add_done_callback(lambda f: f.cancelled() and self.cancel.cancel())

    def on_prefill(self, done: int, total: int) -> None:
        """Called from the model's worker thread after each prefill batch."""
        self._loop.call_soon_threadsafe(self._report_prefill, done, total)

    def _report_prefill(self, done: int, total: int) -> None:
        if self._token is not None and not self._text:
            percentage = int(100 * done / total) if total else 100
            self._ls.work_done_progress.report(
                self._token, types.WorkDoneProgressReport(message=f"reading the prompt: {done}/{total} tokens", percentage=percentage))

    def stage(self, message: str) -> None:
        """What the run does now ("loading the model", "verifying"); called from any thread."""
        self._loop.call_soon_threadsafe(self._report_stage, message)

    def _report_stage(self, message: str) -> None:
        if self._token is not None:
            self._ls.work_done_progress.report(self._token, types.WorkDoneProgressReport(message=message))

    def on_text(self, piece: str) -> None:
        """Called from the model's worker thread."""
        self._loop.call_soon_threadsafe(self._add, piece)

    def on_thought(self, piece: str) -> None:
        """Called from the model's worker thread with the thought (never part of the answer)."""
        self._loop.call_soon_threadsafe(self._add, piece, True)

    def _add(self, piece: str, thought: bool = False) -> None:
        if thought:
            self._thought += piece
        else:
            self._pending += piece
        if time.monotonic() - self._last_flush >= FLUSH_SECONDS:
            self._flush()

    def _flush(self, done: bool = False) -> None:
        if not self._pending and not self._thought and not done:
            return
        delta, self._pending = self._pending, ""
        thought, self._thought = self._thought, ""
        self._text += delta
        self._last_flush = time.monotonic()
        params = {"id": self.id, "uri": self.uri, "title": self.title, "delta": delta, "done": done}
        if thought:
            params["thinking"] = thought
        self._ls.protocol.notify(STREAM_NOTIFICATION, params)
        if self._token is not None and delta:
            tail = " ".join(self._text.split())[-80:]
            self._ls.work_done_progress.report(self._token, types.WorkDoneProgressReport(message=tail))

    def end(self, message: str) -> None:
        self._flush(done=True)
        if self._token is not None:
            self._ls.work_done_progress.end(self._token, types.WorkDoneProgressEnd(message=message))
            self._ls.work_done_progress.tokens.pop(self._token, None)
