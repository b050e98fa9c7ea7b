"""Refactor, Generate tests and Implement over LSP.

The model's answer becomes a proposal that is verified in a shadow copy of the workspace; only a
proposal that passed is offered as a WorkspaceEdit (versioned, so a client refuses it once the
file changed, and annotated with what was checked). A failed one is shown in the user's words
(actions/outcome.py: why, what they can do), with the proposed code and the model's raw answer.
A document edited while the action ran gets ContentModified.
"""

from __future__ import annotations

import asyncio
import functools

from lsprotocol import types

from lsp_server.actions.proposal import Proposal
from lsp_server.features import action_run, documents, explain
from lsp_server.features.capabilities import resource_create_supported
from lsp_server.features.server_api import Server
from lsp_server.model.backend import CancelToken
from lsp_server.pipeline import edit as edit_pipeline

TITLES = {"refactor": "Refactoring", "generate_tests": "Writing tests for", "implement": "Implementing"}


async def propose_edit(ls: Server, kind: str, uri: str, rng: types.Range, cancel: CancelToken, instruction: str | None = None) -> tuple[types.WorkspaceEdit | None, str]:
    """Run the action; returns the verified edit (or None) and what the verification said."""
    ask, version = action_run.ask_for(ls, uri, rng)
    prepared = await asyncio.to_thread(edit_pipeline.prepare, ls.assistant, kind, ask, instruction)
    result = await action_run.run_action(ls, uri, version, TITLES[kind], prepared, functools.partial(edit_pipeline.run, ls.assistant), cancel)
    documents.refuse_if_changed(ls.workspace, uri, version, "the model worked")
    if result.refused:
        await explain.show_text(ls, kind.replace("_", "-"), result.target.path, result.target.name, result.document, result.refused.message)
        return None, result.summary
    return workspace_edit(ls, result.proposal, result.summary), result.summary


def workspace_edit(ls: Server, proposal: Proposal, summary: str) -> types.WorkspaceEdit:
    uri = proposal.path.as_uri()
    caps = ls.client_capabilities
    annotation = "gemma-lsp"
    annotations = {annotation: types.ChangeAnnotation(label=f"verified: {summary}", needs_confirmation=False)}
    if proposal.create:
        edit = types.TextEdit(types.Range(types.Position(0, 0), types.Position(0, 0)), proposal.new_text)
        if not resource_create_supported(caps):
            return types.WorkspaceEdit(changes={uri: [edit]})
        return documents.create_file_edit(uri, [edit], annotations)
    document = documents.get_document(ls.workspace, uri)
    edits = [types.TextEdit(documents.line_range(document.lines, proposal.start_line, proposal.end_line), proposal.new_text)]
    if proposal.imports:  # above the replaced lines (proposal.py), so the two never overlap
        at = documents.line_range(document.lines, proposal.imports_line, proposal.imports_line)
        edits.insert(0, types.TextEdit(at, proposal.imports))
    return documents.versioned_edit(caps, document, edits, annotations)
