"""Forward the server's log records to the client's output (window/logMessage).

A record logged with ``extra={"show_user": True}`` (layers without pygls, e.g. the model loader
falling back to fewer GPU layers) is also shown to the user (window/showMessage). Nothing is
printed to stdout in serve mode: stdout carries the protocol.
"""

from __future__ import annotations

import asyncio
import logging

from lsprotocol import types

from lsp_server.features.server_api import Server

LEVELS = [
    (logging.ERROR, types.MessageType.Error),
    (logging.WARNING, types.MessageType.Warning),
    (logging.INFO, types.MessageType.Info),
    (logging.NOTSET, types.MessageType.Log),
]


class ClientLogHandler(logging.Handler):
    def __init__(self, ls: Server) -> None:
        super().__init__()
        self._ls = ls
        self._loop: asyncio.AbstractEventLoop | None = None
        self.setFormatter(logging.Formatter("%(name)s: %(message)s"))

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def emit(self, record: logging.LogRecord) -> None:
        if self._loop is None or self._loop.is_closed():
            return
        kind = next(kind for level, kind in LEVELS if record.levelno >= level)
        params = types.LogMessageParams(type=kind, message=self.format(record))
        self._loop.call_soon_threadsafe(self._send, self._ls.window_log_message, params)
        if getattr(record, "show_user", False):
            shown = types.ShowMessageParams(type=kind, message=record.getMessage())
            self._loop.call_soon_threadsafe(self._send, self._ls.window_show_message, shown)

    @staticmethod
    def _send(send, params) -> None:
        try:
            send(params)
        except Exception:  # the transport may be gone at shutdown; logging must never raise
            pass
