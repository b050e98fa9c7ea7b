"""Fix failing test over LSP (codeAction/resolve and ``gemma-lsp.fixTest``).

Runs the test in the sandbox with the editor's unsaved text, then the model, then verification;
the logic is in actions/fix_test.py. The explanation (failure, root cause, checks) is shown in
every case; the edit is offered only when it passed. A test that passes already gets a message
and no edit. A document edited while the action ran gets ContentModified.
"""

from __future__ import annotations

import asyncio
import functools

from lsprotocol import types

from lsp_server.features import action_run, documents, edit_actions, explain
from lsp_server.features.server_api import Server
from lsp_server.model.backend import CancelToken
from lsp_server.pipeline import fix_test as fix_pipeline


async def propose_fix(ls: Server, uri: str, rng: types.Range, cancel: CancelToken) -> tuple[types.WorkspaceEdit | None, str]:
    """Run the test, ask the model, verify; the verified edit (or None) and what was checked."""
    ask, version = action_run.ask_for(ls, uri, rng)
    versions = documents.open_versions(ls.workspace)
    fix_pipeline.failing_test(ask)  # at once, before the test runs
    unsaved = documents.unsaved_changes(ls.workspace, ask.root)
    prepared = await asyncio.to_thread(fix_pipeline.prepare, ls.assistant, ask, unsaved)
    if isinstance(prepared, fix_pipeline.NotFailing):
        ls.window_show_message(types.ShowMessageParams(type=types.MessageType.Info, message=prepared.message))
        return None, prepared.reason
    result = await action_run.run_action(ls, uri, version, "Fixing", prepared, functools.partial(fix_pipeline.run, ls.assistant), cancel)
    documents.refuse_if_any_changed(ls.workspace, versions, [uri, result.fix.proposal.path.as_uri()], f"the model worked on {ask.path.name}")
    proposal = result.fix.proposal
    await explain.show_text(ls, "fix-test", ask.path, prepared.test.name, result.document, result.refused.message if result.refused else None)
    return (None, result.summary) if result.refused else (edit_actions.workspace_edit(ls, proposal, result.summary), result.summary)
