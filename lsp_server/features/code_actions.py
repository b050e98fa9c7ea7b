"""textDocument/codeAction (cheap: no model call) and codeAction/resolve (runs the model).

Clients with resolve and data support get actions resolved lazily; the others (eglot, old
Neovim) get a command per action that ends in a message or workspace/applyEdit.
"""

from __future__ import annotations

from lsprotocol import types

from lsp_server.context.target import find_target
from lsp_server.errors import InvalidRequest
from lsp_server.features import documents, explain
from lsp_server.features.capabilities import resolve_supported
from lsp_server.index.python_symbols import parse_python

EXPLAIN = "explain"
EXPLAIN_AS_COMMENT = "explain_as_comment"
COMMANDS = {EXPLAIN: "gemma-lsp.explain", EXPLAIN_AS_COMMENT: "gemma-lsp.explainAsComment"}
KINDS = {EXPLAIN: types.CodeActionKind.Empty, EXPLAIN_AS_COMMENT: types.CodeActionKind.RefactorRewrite}


def offer(ls, params: types.CodeActionParams) -> list[types.CodeAction]:
    document = documents.get_document(ls.workspace, params.text_document.uri)
    start, end = documents.server_range(document, params.range)
    parsed = parse_python(document.source)
    target = find_target(documents.document_path(document), document.source, parsed, start, end)
    if target is None:
        return []
    titles = {EXPLAIN: f"Explain {target.name}", EXPLAIN_AS_COMMENT: f"Explain {target.name} as a comment"}
    caps = ls.client_capabilities
    actions = []
    for action, title in titles.items():
        wanted = params.context.only
        if wanted and not any(KINDS[action].startswith(kind) for kind in wanted):
            continue
        lazy = resolve_supported(caps, "edit" if action == EXPLAIN_AS_COMMENT else None)
        actions.append(_action(action, title, params.text_document.uri, params.range, lazy))
    return actions


def _action(action: str, title: str, uri: str, rng: types.Range, lazy: bool) -> types.CodeAction:
    if lazy:
        data = {"action": action, "uri": uri, "range": _range_json(rng)}
        return types.CodeAction(title=title, kind=KINDS[action], data=data)
    command = types.Command(title=title, command=COMMANDS[action], arguments=[uri, _range_json(rng)])
    return types.CodeAction(title=title, kind=KINDS[action], command=command)


def _range_json(rng: types.Range) -> dict:
    return {
        "start": {"line": rng.start.line, "character": rng.start.character},
        "end": {"line": rng.end.line, "character": rng.end.character},
    }


def _action_data(ls, action: types.CodeAction) -> tuple[str, str, types.Range]:
    data = action.data if isinstance(action.data, dict) else {}
    kind, uri = data.get("action"), data.get("uri")
    try:
        rng = ls.converter.structure(data.get("range"), types.Range)
    except Exception as exc:
        rng = exc
    if kind not in COMMANDS or not isinstance(uri, str) or not isinstance(rng, types.Range):
        raise InvalidRequest("This code action was not made by gemma-lsp (or is from an older session): ask for code actions again.")
    return kind, uri, rng


async def resolve(ls, action: types.CodeAction) -> types.CodeAction:
    kind, uri, rng = _action_data(ls, action)
    cancel = ls.cancel_token_for_request()
    if kind == EXPLAIN:
        result = await explain.run_explain(ls, uri, rng, cancel, "Explaining")
        await explain.deliver(ls, result)
    elif kind == EXPLAIN_AS_COMMENT:
        result = await explain.run_explain(ls, uri, rng, cancel, "Explaining (comment)")
        action.edit = explain.comment_edit(ls, uri, result)
        if action.edit is None:
            ls.show_problem("The model's explanation was empty or would break the file; nothing was inserted.", types.MessageType.Warning)
    return action
