"""workspace/executeCommand: the same actions for clients without codeAction/resolve.

``gemma-lsp.explain`` shows the explanation; the others end in workspace/applyEdit, which the
user can undo like any edit. ``gemma-lsp.refactor`` takes an optional instruction,
``gemma-lsp.change`` a required one (and ``{"refine": true}`` to follow up the last proposal).
"""

from __future__ import annotations

from lsprotocol import types

from lsp_server.features import change, edit_actions, explain, fix_test
from lsp_server.features.capabilities import apply_edit_supported
from lsp_server.features.server_api import Server


async def explain_command(ls: Server, uri: str, rng: types.Range) -> None:
    result = await explain.run_explain(ls, uri, rng, ls.cancel_token_for_request(), "Explaining")
    await explain.deliver(ls, result)


async def explain_as_comment_command(ls: Server, uri: str, rng: types.Range) -> bool:
    edit = await explain.explain_as_comment(ls, uri, rng, ls.cancel_token_for_request())
    if edit is None:
        ls.show_problem("The model's explanation was empty or would break the file; nothing was inserted.", types.MessageType.Warning)
        return False
    return await apply(ls, edit, "Explain as comment")


async def edit_command(ls: Server, key: str, uri: str, rng: types.Range, instruction: str | None = None) -> bool:
    edit, summary = await edit_actions.propose_edit(ls, key, uri, rng, ls.cancel_token_for_request(), instruction)
    return edit is not None and await apply(ls, edit, f"{key.replace('_', ' ')} (verified: {summary})")


async def change_command(ls: Server, uri: str, rng: types.Range, instruction: object = None, options: object = None) -> bool:
    """``[uri, range, instruction, {"refine": true}?]``: refine follows up the last proposal."""
    refine = isinstance(options, dict) and options.get("refine") is True
    edit, summary = await change.propose_change(ls, uri, rng, ls.cancel_token_for_request(), instruction, refine)
    return edit is not None and await apply(ls, edit, f"change (verified: {summary})")


async def fix_test_command(ls: Server, uri: str, rng: types.Range) -> bool:
    edit, summary = await fix_test.propose_fix(ls, uri, rng, ls.cancel_token_for_request())
    return edit is not None and await apply(ls, edit, f"fix failing test (verified: {summary})")


async def apply(ls: Server, edit: types.WorkspaceEdit, label: str) -> bool:
    if not apply_edit_supported(ls.client_capabilities):
        ls.show_problem("This editor cannot apply edits sent by the server (workspace/applyEdit).", types.MessageType.Warning)
        return False
    applied = await ls.workspace_apply_edit_async(types.ApplyWorkspaceEditParams(edit=edit, label=label))
    return bool(applied.applied)
