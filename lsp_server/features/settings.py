"""Settings from initializationOptions, workspace/configuration and didChangeConfiguration.

Pulled only when the client advertises workspace/configuration; pushed settings (Neovim sends
them with didChangeConfiguration) are taken as they come. Bad values: one message, defaults.
"""

from __future__ import annotations

import logging

from lsprotocol import types

from lsp_server.config import settings_from_mapping
from lsp_server.features import egress
from lsp_server.features.capabilities import configuration_supported
from lsp_server.features.server_api import Server

SECTION = "gemmaLsp"
log = logging.getLogger(__name__)


def from_initialize(ls: Server, params: types.InitializeParams) -> None:
    options = params.initialization_options or {}
    if isinstance(options, dict) and SECTION in options:
        options = options[SECTION]
    _apply(ls, options, "initializationOptions")


async def pull(ls: Server) -> None:
    if not configuration_supported(ls.client_capabilities):
        return
    params = types.ConfigurationParams(items=[types.ConfigurationItem(section=SECTION)])
    try:
        result = await ls.workspace_configuration_async(params)
    except Exception as exc:  # a client that fails here still gets served with what it gave
        log.warning("workspace/configuration failed: %s", exc)
        return
    if result and isinstance(result[0], dict):
        _apply(ls, result[0], "workspace/configuration")


async def on_change(ls: Server, params: types.DidChangeConfigurationParams) -> None:
    pushed = params.settings
    if isinstance(pushed, dict) and isinstance(pushed.get(SECTION), dict):
        _apply(ls, pushed[SECTION], "didChangeConfiguration")
    else:
        await pull(ls)


def _apply(ls: Server, data, origin: str) -> None:
    settings, problems = settings_from_mapping(data, ls.assistant.settings)
    ls.assistant.update_settings(settings)
    logging.getLogger("lsp_server").setLevel(settings.log_level.upper())
    if problems:
        ls.show_problem(f"gemma-lsp settings ({origin}): " + "; ".join(problems), types.MessageType.Warning)
    egress.announce(ls)
