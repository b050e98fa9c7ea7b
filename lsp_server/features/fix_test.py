"""Fix failing test over LSP (codeAction/resolve and ``gemma-lsp.fixTest``).

Runs the test in the sandbox with the editor's unsaved text, then the model, then verification;
the logic is in actions/fix_test.py. The explanation (failure, root cause, checks) is shown in
every case; the edit is offered only when it passed. A test that passes already gets a message
and no edit. A document edited while the action ran gets ContentModified.
"""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path

from lsprotocol import types
from pygls.exceptions import JsonRpcContentModified
from pygls.uris import to_fs_path

from lsp_server.features import action_run, documents, edit_actions, explain
from lsp_server.features.server_api import Server
from lsp_server.model.backend import CancelToken
from lsp_server.pipeline import fix_test as fix_pipeline
from lsp_server.verify.shadow import FileChange


async def propose_fix(ls: Server, uri: str, rng: types.Range, cancel: CancelToken) -> tuple[types.WorkspaceEdit | None, str]:
    """Run the test, ask the model, verify; the verified edit (or None) and what was checked."""
    ask, version = action_run.ask_for(ls, uri, rng)
    versions = {open_uri: open_doc.version for open_uri, open_doc in list(ls.workspace.text_documents.items())}
    fix_pipeline.failing_test(ask)  # at once, before the test runs
    unsaved = tuple(unsaved_changes(ls, ask.root))
    prepared = await asyncio.to_thread(fix_pipeline.prepare, ls.assistant, ask, unsaved)
    if isinstance(prepared, fix_pipeline.NotFailing):
        ls.window_show_message(types.ShowMessageParams(type=types.MessageType.Info, message=prepared.message))
        return None, prepared.reason
    result = await action_run.run_action(ls, uri, version, "Fixing", prepared, functools.partial(fix_pipeline.run, ls.assistant), cancel)
    _refuse_if_changed(ls, versions, [uri, result.fix.proposal.path.as_uri()], ask.path)
    proposal = result.fix.proposal
    await explain.show_text(ls, "fix-test", ask.path, prepared.test.name, result.document, result.refused.message if result.refused else None)
    return (None, result.summary) if result.refused else (edit_actions.workspace_edit(ls, proposal, result.summary), result.summary)


def unsaved_changes(ls: Server, root: Path) -> list[FileChange]:
    """The editor's text of open Python files under ``root``: the test runs on what the user sees."""
    changes = []
    for uri, document in list(ls.workspace.text_documents.items()):
        path = to_fs_path(uri)
        if path and path.endswith(".py") and Path(path).resolve().is_relative_to(root.resolve()):
            changes.append(FileChange(Path(path), document.source))
    return changes


def _refuse_if_changed(ls: Server, versions: dict[str, int | None], uris: list[str], path: Path) -> None:
    """ContentModified when a document the fix read or edits changed since the action began."""
    for uri in uris:
        document = ls.workspace.text_documents.get(uri)
        if document is not None and uri in versions and document.version != versions[uri]:
            raise JsonRpcContentModified(f"{Path(documents.document_path(document)).name} changed while the model worked on {path.name}; ask again.")
