"""The JSON-RPC protocol with the answers pygls leaves out.

- A request whose params do not fit the method's types gets InvalidParams, and a notification
  sent with an id gets InvalidRequest (pygls logs the first and treats the second as a
  notification: either way it never answers, and the client would wait forever).
- A request before ``initialize`` gets ServerNotInitialized, as the LSP spec says.
- ``$/cancelRequest`` also sets the model's cancel token (pygls cancels only the outer future of
  a command, not the task that runs it).
- Each request remembers the open documents' versions when it arrived (``versions_at_arrival``):
  its handler may start only after later didChange notifications were applied, and a range the
  client sent for the older text must then be refused, not applied to the new one.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from lsprotocol import types
from pygls.protocol import LanguageServerProtocol

log = logging.getLogger(__name__)
INVALID_REQUEST = -32600
INVALID_PARAMS = -32602
SERVER_NOT_INITIALIZED = -32002
ALLOWED_BEFORE_INITIALIZE = {types.INITIALIZE, types.EXIT, types.SHUTDOWN}
REMEMBERED_REQUESTS = 512
"""Requests whose arrival versions are kept (the oldest are forgotten: bounded memory)."""


@dataclass(frozen=True)
class MalformedRequest:
    id: Any
    method: str
    problem: str
    code: int = INVALID_PARAMS
    jsonrpc: str = "2.0"


class GemmaProtocol(LanguageServerProtocol):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.versions_at_arrival: OrderedDict = OrderedDict()
        """Request id -> {uri: version} of the open documents when that request arrived."""

    def structure_message(self, data: dict[str, Any]):
        is_request = isinstance(data, dict) and "id" in data and isinstance(data.get("method"), str)
        try:
            message = super().structure_message(data)
        except Exception as exc:
            if is_request:
                return MalformedRequest(data["id"], data["method"], f"Invalid params for {data['method']}: {exc.__cause__ or exc}")
            raise
        if is_request and "jsonrpc" in data and not hasattr(message, "id"):
            method = data["method"]
            return MalformedRequest(data["id"], method, f"{method} is a notification: send it without an id.", INVALID_REQUEST)
        return message

    def handle_message(self, message):
        if isinstance(message, MalformedRequest):
            self._refuse(message.id, message.code, message.problem)
            return
        method = getattr(message, "method", None)
        if method is not None and getattr(message, "id", None) is not None and self._workspace is None and method not in ALLOWED_BEFORE_INITIALIZE:
            self._refuse(message.id, SERVER_NOT_INITIALIZED, f"{method} before initialize: send initialize first.")
            return
        if method is not None and getattr(message, "id", None) is not None and self._workspace is not None:
            self._remember_versions(message.id)
        super().handle_message(message)

    def _remember_versions(self, msg_id) -> None:
        remembered = self.versions_at_arrival
        remembered[msg_id] = {uri: document.version for uri, document in self._workspace.text_documents.items()}
        while len(remembered) > REMEMBERED_REQUESTS:
            remembered.popitem(last=False)

    def _refuse(self, msg_id, code: int, text: str) -> None:
        log.warning("%s", text)
        self._send_response(msg_id, error=types.ResponseError(code=code, message=text))

    def _handle_cancel_notification(self, msg_id):
        self._server.cancel_request(msg_id)
        super()._handle_cancel_notification(msg_id)
