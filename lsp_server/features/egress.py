"""Say once, visibly (window/showMessage), where code goes when the backend is a team server.

Called whenever settings are applied. Each destination is announced once per server process; a
refused destination (not loopback, not in ``remote.allowed_hosts``) is reported once as an error.
"""

from __future__ import annotations

import logging

from lsprotocol import types

from lsp_server.assistant import destination
from lsp_server.features.server_api import Server
from lsp_server.privacy.egress import RemoteNotAllowed

log = logging.getLogger(__name__)


def announce(ls: Server) -> None:
    settings = ls.assistant.settings
    try:
        where = destination(settings)
    except RemoteNotAllowed as exc:
        if _first_time(ls, f"refused {settings.remote.url}"):
            ls.show_problem(str(exc))
        return
    if where is None or not _first_time(ls, where.url):
        return
    message = (
        f"gemma-lsp sends the code it packs into prompts to {where.describe()} (setting backend: openai). "
        "Nothing else leaves this machine."
    )
    log.warning("%s", message)
    ls.window_show_message(types.ShowMessageParams(type=types.MessageType.Info, message=message))


def _first_time(ls: Server, key: str) -> bool:
    if key in ls.announced_destinations:
        return False
    ls.announced_destinations.add(key)
    return True
