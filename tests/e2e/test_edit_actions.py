"""Refactor, Generate tests and Implement through the real server and the real (tiny) model.

The model is small, so these tests assert on structure and on verification, not on wisdom: an
edit is offered only when it passed verification (and then it really does pass), otherwise the
user is shown the failure and the model's raw answer.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from tests.e2e.conftest import open_file, start
from tests.e2e.test_explain import actions_at

pytestmark = pytest.mark.e2e
OPTIONS = {"model": {"n_ctx": 2048, "max_tokens": 96, "temperature": 0.0}, "verify": {"timeoutSeconds": 60}}


def apply_text_edits(text: str, edits: list[types.TextEdit]) -> str:
    lines = text.splitlines(keepends=True)
    for edit in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        start = sum(len(line) for line in lines[: edit.range.start.line]) + edit.range.start.character
        end = sum(len(line) for line in lines[: edit.range.end.line]) + edit.range.end.character
        text = text[:start] + edit.new_text + text[end:]
        lines = text.splitlines(keepends=True)
    return text


def apply_workspace_edit(edit: types.WorkspaceEdit) -> list[Path]:
    """Apply the edit to the files (as the editor would); returns the files written."""
    written = []
    for change in edit.document_changes or []:
        if isinstance(change, types.CreateFile):
            continue
        path = Path(change.text_document.uri.removeprefix("file://"))
        before = path.read_text() if path.exists() else ""
        path.write_text(apply_text_edits(before, list(change.edits)))
        written.append(path)
    for uri, edits in (edit.changes or {}).items():
        path = Path(uri.removeprefix("file://"))
        path.write_text(apply_text_edits(path.read_text() if path.exists() else "", list(edits)))
        written.append(path)
    return written


def run_pytest(workspace: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=workspace, capture_output=True, text=True, timeout=120)


def assert_verified_or_explained(client: LanguageClient, action: types.CodeAction, workspace: Path) -> None:
    if action.edit is not None:
        assert "(verified: parsed, lint clean" in action.title
        apply_workspace_edit(action.edit)
        result = run_pytest(workspace)
        assert result.returncode == 0, result.stdout + result.stderr
    else:
        assert "(not offered: " in action.title
        shown = Path(client.shown_documents[-1].uri.removeprefix("file://")).read_text()
        assert "failed verification and was not offered" in shown and "## The model's answer" in shown


async def test_generate_tests_offers_only_verified_tests(bare_client: LanguageClient, workspace: Path):
    await start(bare_client, workspace, OPTIONS)
    uri = open_file(bare_client, workspace / "shop" / "pricing.py")
    action = next(a for a in await actions_at(bare_client, uri, 5) if a.title == "Gemma: Generate tests for apply_discount")
    resolved = await bare_client.code_action_resolve_async(action)
    assert_verified_or_explained(bare_client, resolved, workspace)
    if resolved.edit is not None:  # appended to the existing module, nothing in it changed
        text = (workspace / "tests" / "test_pricing.py").read_text()
        assert text.startswith((Path(__file__).parent / "workspace" / "tests" / "test_pricing.py").read_text())


async def test_refactor_is_offered_only_if_the_tests_still_pass(bare_client: LanguageClient, workspace: Path):
    await start(bare_client, workspace, OPTIONS)
    uri = open_file(bare_client, workspace / "shop" / "pricing.py")
    action = next(a for a in await actions_at(bare_client, uri, 5) if a.title == "Gemma: Refactor apply_discount")
    resolved = await bare_client.code_action_resolve_async(action)
    assert_verified_or_explained(bare_client, resolved, workspace)


async def test_implement_is_offered_for_stubs_only_and_verified(bare_client: LanguageClient, workspace: Path):
    await start(bare_client, workspace, OPTIONS)
    stub_uri = open_file(bare_client, workspace / "shop" / "stubs.py")
    cart_uri = open_file(bare_client, workspace / "shop" / "cart.py")
    assert not any(a.title.startswith("Gemma: Implement") for a in await actions_at(bare_client, cart_uri, 12))
    action = next(a for a in await actions_at(bare_client, stub_uri, 4) if a.title == "Gemma: Implement clamp")
    resolved = await bare_client.code_action_resolve_async(action)
    assert_verified_or_explained(bare_client, resolved, workspace)


async def test_commands_apply_edits_for_clients_without_resolve(bare_client: LanguageClient, workspace: Path):
    applied: list[types.ApplyWorkspaceEditParams] = []

    @bare_client.feature(types.WORKSPACE_APPLY_EDIT)
    def apply_edit(params: types.ApplyWorkspaceEditParams):
        applied.append(params)
        return types.ApplyWorkspaceEditResult(applied=True)

    await start(bare_client, workspace, OPTIONS, client_name="emacs")
    uri = open_file(bare_client, workspace / "shop" / "pricing.py")
    action = next(a for a in await actions_at(bare_client, uri, 5) if a.title == "Gemma: Refactor apply_discount")
    assert action.command is not None and action.command.command == "gemma-lsp.refactor"
    arguments = [*action.command.arguments, "use early returns"]
    ok = await bare_client.workspace_execute_command_async(types.ExecuteCommandParams(command=action.command.command, arguments=arguments))
    assert ok is bool(applied)
    if applied:
        assert "verified: parsed, lint clean" in applied[0].label
    else:
        assert any("not offered" in m.message or "failed verification" in m.message for m in bare_client.messages)


async def test_a_document_edited_while_the_action_runs_gets_content_modified(bare_client: LanguageClient, workspace: Path):
    await start(bare_client, workspace, {**OPTIONS, "model": {**OPTIONS["model"], "max_tokens": 200}})
    path = workspace / "shop" / "pricing.py"
    uri = open_file(bare_client, path)
    action = next(a for a in await actions_at(bare_client, uri, 5) if a.title == "Gemma: Refactor apply_discount")
    pending = asyncio.ensure_future(bare_client.code_action_resolve_async(action))
    deadline = asyncio.get_running_loop().time() + 60
    while not bare_client.stream and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.02)
    change = types.TextDocumentContentChangeWholeDocument(text=path.read_text() + "\n# edited\n")
    bare_client.text_document_did_change(types.DidChangeTextDocumentParams(types.VersionedTextDocumentIdentifier(uri=uri, version=2), [change]))
    with pytest.raises(JsonRpcException) as error:
        await pending
    assert error.value.code == -32801
