"""What the client says it supports. pygls does not check before server->client requests."""

from __future__ import annotations

from lsprotocol import types


def resolve_supported(caps: types.ClientCapabilities, prop: str | None = None) -> bool:
    """codeAction/resolve with ``data`` round-tripped (and ``prop`` resolvable, when given)."""
    action = caps.text_document.code_action if caps.text_document else None
    if action is None or not action.data_support or action.resolve_support is None:
        return False
    return prop is None or prop in (action.resolve_support.properties or [])


def show_document_supported(caps: types.ClientCapabilities) -> bool:
    return bool(caps.window and caps.window.show_document and caps.window.show_document.support)


def work_done_progress_supported(caps: types.ClientCapabilities) -> bool:
    return bool(caps.window and caps.window.work_done_progress)


def configuration_supported(caps: types.ClientCapabilities) -> bool:
    return bool(caps.workspace and caps.workspace.configuration)


def document_changes_supported(caps: types.ClientCapabilities) -> bool:
    edit = caps.workspace.workspace_edit if caps.workspace else None
    return bool(edit and edit.document_changes)


def apply_edit_supported(caps: types.ClientCapabilities) -> bool:
    return bool(caps.workspace and caps.workspace.apply_edit)


def resource_create_supported(caps: types.ClientCapabilities) -> bool:
    """CreateFile in documentChanges. Neovim lists the resource operations it applies but not
    ``documentChanges`` itself, though it applies them; the resource operations decide."""
    edit = caps.workspace.workspace_edit if caps.workspace else None
    return bool(edit and types.ResourceOperationKind.Create in (edit.resource_operations or []))
