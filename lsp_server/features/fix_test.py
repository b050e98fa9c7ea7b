"""Fix failing test over LSP (codeAction/resolve and ``gemma-lsp.fixTest``).

Runs the test in the sandbox with the editor's unsaved text, then the model, then verification;
the logic is in actions/fix_test.py. The explanation (failure, root cause, checks) is shown in
every case; the edit is offered only when it passed. A test that passes already gets a message
and no edit. A document edited while the action ran gets ContentModified.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from lsprotocol import types
from pygls.exceptions import JsonRpcContentModified
from pygls.uris import to_fs_path

from lsp_server.actions import fix_test
from lsp_server.errors import InvalidRequest
from lsp_server.features import documents, edit_actions, explain
from lsp_server.features.model_run import run_model
from lsp_server.features.server_api import Server
from lsp_server.model.backend import CancelToken
from lsp_server.model.thinking import folded_thought
from lsp_server.verify.checks import sandbox_refusal
from lsp_server.verify.jail import NO_SANDBOX
from lsp_server.verify.shadow import FileChange

NOT_FAILING = {
    "passed": "{name} passes already: there is nothing to fix.",
    "skipped": "{name} is skipped, so it cannot be fixed by running it; remove the skip first.",
    "timed out": "{name} did not finish within verify.timeoutSeconds; a hanging test cannot be fixed this way.",
}


async def propose_fix(ls: Server, uri: str, rng: types.Range, cancel: CancelToken) -> tuple[types.WorkspaceEdit | None, str]:
    """Run the test, ask the model, verify; the verified edit (or None) and what was checked."""
    document = documents.get_document(ls.workspace, uri)
    path = documents.document_path(document)
    versions = {open_uri: open_doc.version for open_uri, open_doc in list(ls.workspace.text_documents.items())}
    start, _ = documents.server_range(document, rng)
    test = fix_test.test_at(path, document.source, start[0])
    if test is None:
        raise InvalidRequest(f"No test function at line {start[0] + 1} of {path.name}: put the cursor in a test_* function of a test file.")
    settings = ls.assistant.settings.verify
    if not settings.run_tests:
        raise InvalidRequest("Fix failing test runs the test, but verify.runTests is off: turn it on to use this action.")
    if sandbox_refusal(settings):
        raise InvalidRequest(f"Fix failing test runs the test, but there is {NO_SANDBOX} (see gemma-lsp doctor): install bubblewrap, or set verify.allowUnsandboxed if you accept running model-written code with your rights.")
    root = documents.workspace_root(ls.workspace, path)
    node = fix_test.node_id(path, root, test.qualname)
    unsaved = unsaved_changes(ls, root)
    failure = await asyncio.to_thread(fix_test.run_test, root, unsaved, node, settings)
    if failure.outcome in NOT_FAILING:
        ls.window_show_message(types.ShowMessageParams(type=types.MessageType.Info, message=NOT_FAILING[failure.outcome].format(name=test.name)))
        return None, {"passed": "the test passes already"}.get(failure.outcome, f"the test {failure.outcome}")
    read = documents.read_from_workspace(ls.workspace)
    found = await asyncio.to_thread(fix_test.candidates, failure, root, path, document.source, test, read)
    model = ls.assistant.settings.model

    def make_request(packed, style):
        packed = fix_test.with_code_under_test(packed, found, root)
        return fix_test.build_request(packed, fix_test.for_prompt(failure, root), found, style, model.max_tokens, model.temperature)

    test_range = types.Range(types.Position(test.start_line, 0), types.Position(test.start_line, 0))
    run = await run_model(ls, uri, test_range, cancel, "Fixing", make_request, action="fix_test")
    _refuse_if_changed(ls, versions, [uri], path)  # no use verifying a fix for a stale test
    fix = await asyncio.to_thread(fix_test.propose, found, failure, run.generation.text, root, settings, tuple(unsaved))
    _refuse_if_changed(ls, versions, [uri, fix.proposal.path.as_uri()], path)
    summary = fix.proposal.verification.summary()
    ok = fix.proposal.verification.ok
    refused = None if ok else fix_test.refusal(fix, root)
    shown = fix_test.markdown(fix, summary, ok, root) + folded_thought(run.generation.thought)
    await explain.show_text(ls, "fix-test", path, test.name, shown, refused.message if refused else None)
    return (edit_actions.workspace_edit(ls, fix.proposal, summary), summary) if ok else (None, refused.reason)


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
