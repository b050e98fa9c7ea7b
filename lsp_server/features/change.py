"""Change... over LSP: an instruction carried out across files (the ``gemma-lsp.change`` command,
and the "Change..." code action whose data carries the instruction).

The proposal is verified in the shadow copy first (pipeline/change.py); a verified one comes back
as one WorkspaceEdit over all its files (one undo; new files created, never written over), which
the editor previews before it is applied; a failed one is shown with why, its diff and the model's
answer. ``refine`` makes the instruction a follow-up of the last proposal for the same document.
"""

from __future__ import annotations

import asyncio
import functools

from lsprotocol import types
from pygls.exceptions import JsonRpcContentModified

from lsp_server.actions.change import ChangeProposal
from lsp_server.features import action_run, documents, explain
from lsp_server.features.server_api import Server
from lsp_server.model.backend import CancelToken
from lsp_server.pipeline import change as change_pipeline


async def propose_change(ls: Server, uri: str, rng: types.Range, cancel: CancelToken, instruction: object, refine: bool = False) -> tuple[types.WorkspaceEdit | None, str]:
    """Run Change...; the verified multi-file edit (or None) and what was checked. An
    ``instruction`` that is no text (a client's bad arguments) is refused as a missing one."""
    ask, version = action_run.ask_for(ls, uri, rng)
    versions = documents.open_versions(ls.workspace)
    previous = ls.last_changes.get(uri) if refine else None
    unsaved = documents.unsaved_changes(ls.workspace, ask.root)
    prepared = await asyncio.to_thread(change_pipeline.prepare, ls.assistant, ask, instruction if isinstance(instruction, str) else "", previous, unsaved)
    result = await action_run.run_action(ls, uri, version, "Changing", prepared, functools.partial(change_pipeline.run, ls.assistant), cancel)
    touched = [file.path.as_uri() for file in result.proposal.files]
    documents.refuse_if_any_changed(ls.workspace, versions, [uri, *touched], "the model worked")
    if result.refused:
        name = result.proposal.instruction[:60]
        await explain.show_text(ls, "change", ask.path, name, result.document, result.refused.message)
        return None, result.summary
    ls.last_changes[uri] = result.proposal
    return files_edit(ls, result.proposal, result.summary), result.summary


def files_edit(ls: Server, proposal: ChangeProposal, summary: str) -> types.WorkspaceEdit:
    """The proposal as one WorkspaceEdit; ContentModified when a file is not the text the proposal
    was made from (changed on disk meanwhile)."""
    files = []
    for file in proposal.files:
        uri = file.path.as_uri()
        document = None if file.create else documents.get_document(ls.workspace, uri)
        if document is not None and document.source != file.old_text:
            raise JsonRpcContentModified(f"{file.path.name} changed while the model worked; ask again.")
        files.append((uri, document, file.new_text))
    annotations = {"gemma-lsp": types.ChangeAnnotation(label=f"verified: {summary}", needs_confirmation=False)}
    return documents.files_edit(ls.client_capabilities, files, annotations)
