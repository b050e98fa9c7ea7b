"""textDocument/codeAction (cheap: no model call) and codeAction/resolve (runs the model).

Clients with resolve and data support get actions resolved lazily; the others (eglot, old
Neovim) get a command per action that ends in a message or workspace/applyEdit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cattrs
from lsprotocol import types

from lsp_server.actions.fix_test import is_test_function
from lsp_server.actions.implement import needs_implementation
from lsp_server.context.target import Target, find_target
from lsp_server.errors import InvalidRequest
from lsp_server.estimate import estimate_tokens
from lsp_server.features import change, documents, edit_actions, explain, fix_test
from lsp_server.features.capabilities import resolve_supported
from lsp_server.features.server_api import Server
from lsp_server.index.python_symbols import parse_python


@dataclass(frozen=True)
class ActionSpec:
    title: str
    """With ``{name}`` for the target's name; "Gemma:" first, so the light bulb's list says whose it is."""
    kind: str
    command: str
    edits: bool
    """Resolves to a WorkspaceEdit (needs resolve support for the ``edit`` property)."""
    offered: Callable[[Target], bool] = lambda target: True


ACTIONS = {
    "explain": ActionSpec("Gemma: Explain {name}", types.CodeActionKind.Empty, "gemma-lsp.explain", False),
    "explain_as_comment": ActionSpec("Gemma: Explain {name} as a comment", types.CodeActionKind.RefactorRewrite, "gemma-lsp.explainAsComment", True),
    "refactor": ActionSpec("Gemma: Refactor {name}", types.CodeActionKind.RefactorRewrite, "gemma-lsp.refactor", True),
    "generate_tests": ActionSpec(
        "Gemma: Generate tests for {name}", types.CodeActionKind.Empty, "gemma-lsp.generateTests", True,
        lambda target: target.kind in ("function", "method", "class"),
    ),
    "implement": ActionSpec(
        "Gemma: Implement {name}", types.CodeActionKind.RefactorRewrite, "gemma-lsp.implement", True,
        lambda target: target.kind in ("function", "method") and needs_implementation(target.text),
    ),
    "fix_test": ActionSpec(
        "Gemma: Fix failing test {name}", types.CodeActionKind.QuickFix, "gemma-lsp.fixTest", True,
        lambda target: is_test_function(target.path, target.definition),
    ),
    "change": ActionSpec("Gemma: Change {name}...", types.CodeActionKind.RefactorRewrite, "gemma-lsp.change", True),
}
COMMANDS = {key: spec.command for key, spec in ACTIONS.items()}
KIND_VALUES = sorted({spec.kind for spec in ACTIONS.values()})


def offer(ls: Server, params: types.CodeActionParams) -> list[types.CodeAction]:
    document = documents.get_document(ls.workspace, params.text_document.uri)
    start, end = documents.server_range(document, params.range)
    path, index = documents.document_path(document), ls.assistant.index
    parsed = index.parsed_document(path, document.source) if index is not None else parse_python(document.source)
    target = find_target(path, document.source, parsed, start, end)
    wanted = params.context.only
    if target is None:  # outside every definition: Change... on the whole file, when it fits a prompt
        spec = ACTIONS["change"]
        if not _wanted(spec, wanted) or estimate_tokens(document.source) > ls.assistant.context_budget():
            return []
        if find_target(path, document.source, parsed, (0, 0), (len(document.lines), 0)) is None:
            return []
        whole = documents.line_range(document.lines, 0, len(document.lines))
        lazy = resolve_supported(ls.client_capabilities, "edit")
        return [_action("change", spec, spec.title.format(name=path.name), params.text_document.uri, whole, lazy)]
    actions = []
    for key, spec in ACTIONS.items():
        if _wanted(spec, wanted) and spec.offered(target):
            lazy = resolve_supported(ls.client_capabilities, "edit" if spec.edits else None)
            actions.append(_action(key, spec, spec.title.format(name=target.name), params.text_document.uri, params.range, lazy))
    return actions


def _wanted(spec: ActionSpec, only: list[str] | None) -> bool:
    """Whether the client asked for this kind of action (``context.only``; none: every kind)."""
    return not only or any(spec.kind.startswith(kind) for kind in only)


def _action(key: str, spec: ActionSpec, title: str, uri: str, rng: types.Range, lazy: bool) -> types.CodeAction:
    if lazy:
        return types.CodeAction(title=title, kind=spec.kind, data={"action": key, "uri": uri, "range": range_json(rng)})
    command = types.Command(title=title, command=spec.command, arguments=[uri, range_json(rng)])
    return types.CodeAction(title=title, kind=spec.kind, command=command)


def range_json(rng: types.Range) -> dict:
    return {
        "start": {"line": rng.start.line, "character": rng.start.character},
        "end": {"line": rng.end.line, "character": rng.end.character},
    }


def _action_data(ls: Server, action: types.CodeAction) -> tuple[str, str, types.Range, str | None, bool]:
    """(action, uri, range, instruction, refine) from the action's data; ``refine`` (Change...)
    makes the instruction a follow-up of the last proposal."""
    data = action.data if isinstance(action.data, dict) else {}
    key, uri, instruction = data.get("action"), data.get("uri"), data.get("instruction")
    rng = _range_or_none(ls, data.get("range"))
    if key not in ACTIONS or not isinstance(uri, str) or rng is None or not isinstance(instruction, (str, type(None))):
        raise InvalidRequest("This code action was not made by gemma-lsp (or is from an older session): ask for code actions again.")
    return key, uri, rng, instruction, data.get("refine") is True


def _range_or_none(ls: Server, value) -> types.Range | None:
    try:
        return ls.converter.structure(value, types.Range)
    except cattrs.BaseValidationError:
        return None


async def resolve(ls: Server, action: types.CodeAction) -> types.CodeAction:
    key, uri, rng, instruction, refine = _action_data(ls, action)
    cancel = ls.cancel_token_for_request()
    if key == "explain":
        await explain.deliver(ls, await explain.run_explain(ls, uri, rng, cancel, "Explaining"))
    elif key == "explain_as_comment":
        action.edit = await explain.explain_as_comment(ls, uri, rng, cancel)
        if action.edit is None:
            ls.show_problem("The model's explanation was empty or would break the file; nothing was inserted.", types.MessageType.Warning)
    else:
        if key == "fix_test":
            propose = fix_test.propose_fix(ls, uri, rng, cancel)
        elif key == "change":
            propose = change.propose_change(ls, uri, rng, cancel, instruction, refine)
        else:
            propose = edit_actions.propose_edit(ls, key, uri, rng, cancel, instruction)
        action.edit, summary = await propose
        action.title = f"{action.title} ({'verified: ' if action.edit else 'not offered: '}{summary})"
    return action
