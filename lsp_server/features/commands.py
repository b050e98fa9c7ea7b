"""workspace/executeCommand: the same actions for clients without codeAction/resolve.

``gemma-lsp.explain`` shows the explanation; ``gemma-lsp.explainAsComment`` ends in
workspace/applyEdit, which the user can undo like any edit.
"""

from __future__ import annotations

from lsprotocol import types

from lsp_server.features import explain
from lsp_server.features.capabilities import apply_edit_supported


async def explain_command(ls, uri: str, rng: types.Range) -> None:
    result = await explain.run_explain(ls, uri, rng, ls.cancel_token_for_request(), "Explaining")
    await explain.deliver(ls, result)


async def explain_as_comment_command(ls, uri: str, rng: types.Range) -> bool:
    result = await explain.run_explain(ls, uri, rng, ls.cancel_token_for_request(), "Explaining (comment)")
    edit = explain.comment_edit(ls, uri, result)
    if edit is None:
        ls.show_problem("The model's explanation was empty or would break the file; nothing was inserted.", types.MessageType.Warning)
        return False
    if not apply_edit_supported(ls.client_capabilities):
        await explain.deliver(ls, result)
        return False
    applied = await ls.workspace_apply_edit_async(types.ApplyWorkspaceEditParams(edit=edit, label="Explain as comment"))
    return bool(applied.applied)
