"""On save: stub tests for the public functions added or changed since the last save that no
test references (``onSave.stubTests``). The logic is in actions/stub_tests.py.

textDocument/didSave is debounced per file (saves within ``DEBOUNCE_SECONDS`` are one). The
baseline is the text at the previous save, or at didOpen for the first save. The stubs reach the
client through workspace/applyEdit: CreateFile + insert for a new test file, or an insertion at the
end of the existing one (versioned when it is open). Nothing is sent when there is nothing to add.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from lsprotocol import types
from pygls.uris import to_fs_path

from lsp_server.actions import stub_tests
from lsp_server.actions.generate_tests import module_name, test_file_for
from lsp_server.context.resolve import referenced_by_tests
from lsp_server.features import documents
from lsp_server.features.capabilities import (
    apply_edit_supported,
    resource_create_supported,
)
from lsp_server.features.server_api import Server
from lsp_server.verify.select import is_test_file

log = logging.getLogger(__name__)
DEBOUNCE_SECONDS = 0.5


class SavedTexts:
    """Per document: the text the last handled save (or didOpen) saw, and the pending save."""

    def __init__(self) -> None:
        self.baseline: dict[str, str] = {}
        self.pending: dict[str, asyncio.Task] = {}


def opened(ls: Server, uri: str) -> None:
    document = ls.workspace.text_documents.get(uri)
    if document is not None:
        ls.saved_texts.baseline[uri] = document.source


def closed(ls: Server, uri: str) -> None:
    ls.saved_texts.baseline.pop(uri, None)
    task = ls.saved_texts.pending.pop(uri, None)
    if task is not None:
        task.cancel()


def saved(ls: Server, uri: str) -> None:
    """didSave: (re)start this file's debounce timer."""
    state = ls.saved_texts
    if uri in state.pending:
        state.pending[uri].cancel()
    state.pending[uri] = asyncio.ensure_future(_after_quiet(ls, uri))


async def _after_quiet(ls: Server, uri: str) -> None:
    try:
        await asyncio.sleep(DEBOUNCE_SECONDS)
        ls.saved_texts.pending.pop(uri, None)
        await add_stubs(ls, uri)
    except asyncio.CancelledError:
        pass
    except Exception:  # a failed stub must never take the server down
        log.exception("stub tests on save failed for %s", uri)


async def add_stubs(ls: Server, uri: str) -> bool:
    """Compare with the baseline, append the stubs needed; True when an edit was applied."""
    document = ls.workspace.text_documents.get(uri)
    path = Path(to_fs_path(uri) or "")
    if document is None or not path.name:
        return False
    text, state = document.source, ls.saved_texts
    before = state.baseline.get(uri, text)
    state.baseline[uri] = text
    roots = documents.workspace_roots(ls.workspace)
    root = documents.workspace_root(ls.workspace, path)
    if not stub_tests.wanted(ls.assistant.settings.on_save.stub_tests, path, is_test_file(path)) or not any(path.resolve().is_relative_to(r.resolve()) for r in roots):
        return False
    edit = await asyncio.to_thread(_plan, ls, path, root, before, text)
    if edit is None:
        return False
    return await _apply(ls, edit)


def _plan(ls: Server, path: Path, root: Path, before: str, text: str) -> stub_tests.StubEdit | None:
    changed = stub_tests.changed_functions(before, text)
    if not changed:
        return None
    test_file = test_file_for(path, root)
    test_text = documents.read_for_editing(ls.workspace)(test_file)  # no model here: secret test files too
    index = ls.assistant.index
    referenced = referenced_by_tests(index, path, text) if index is not None else set()  # no index: no links
    names = stub_tests.needing_stubs(changed, referenced, test_text)
    return stub_tests.stub_edit(module_name(path, root), stub_tests.public_functions(text), names, test_file, test_text)


async def _apply(ls: Server, edit: stub_tests.StubEdit) -> bool:
    caps = ls.client_capabilities
    if not apply_edit_supported(caps) or (edit.create and not resource_create_supported(caps)):
        log.info("stub tests for %s not sent: the client cannot apply %s", ", ".join(edit.names), "new files" if edit.create else "edits")
        return False
    uri = edit.test_file.as_uri()
    position = types.Position(edit.line, edit.character)
    insert = types.TextEdit(types.Range(position, position), edit.text)
    if edit.create:
        workspace_edit = documents.create_file_edit(uri, [insert])
    else:
        open_document = ls.workspace.text_documents.get(uri)
        if open_document is not None:
            workspace_edit = documents.versioned_edit(caps, open_document, [insert])
        else:
            workspace_edit = types.WorkspaceEdit(changes={uri: [insert]})
    label = f"Stub tests for {', '.join(edit.names)}"
    result = await ls.workspace_apply_edit_async(types.ApplyWorkspaceEditParams(edit=workspace_edit, label=label))
    return bool(result.applied)
