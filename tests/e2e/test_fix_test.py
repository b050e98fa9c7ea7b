"""Fix failing test through the real server and the real (tiny) model.

The workspace gets a module with a real bug (``median`` of an even count picks the upper middle)
and its tests. The model is small, so the assertions are on structure and verification: a fix is
offered only if it made the failing test pass without breaking the others (and then applying it
really does), otherwise the user reads the failure, the model's root cause and its raw answer.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from tests.e2e.conftest import open_file, start
from tests.e2e.test_edit_actions import apply_workspace_edit, run_pytest
from tests.e2e.test_explain import actions_at

pytestmark = pytest.mark.e2e
OPTIONS = {"model": {"n_ctx": 2048, "max_tokens": 160, "temperature": 0.0}, "verify": {"timeoutSeconds": 60}}
STATS = '''"""Small statistics."""


def median(values):
    """The middle value; the mean of the two middle ones for an even count."""
    ordered = sorted(values)
    return ordered[len(ordered) // 2]
'''
TESTS = '''from shop.stats import median


def test_median_of_odd_count():
    assert median([3, 1, 2]) == 2


def test_median_of_even_count():
    assert median([4, 1, 3, 2]) == 2.5
'''
FAILING_LINE = 8  # the assert inside test_median_of_even_count (0-based)
TITLE = "Gemma: Fix failing test test_median_of_even_count"


@pytest.fixture
def buggy(workspace: Path) -> Path:
    (workspace / "shop" / "stats.py").write_text(STATS)
    (workspace / "tests" / "test_stats.py").write_text(TESTS)
    return workspace


def shown_markdown(client: LanguageClient) -> str:
    return Path(client.shown_documents[-1].uri.removeprefix("file://")).read_text()


async def test_fix_failing_test_offers_only_a_verified_fix(bare_client: LanguageClient, buggy: Path):
    await start(bare_client, buggy, OPTIONS)
    assert not any(a.title.startswith("Gemma: Fix failing test") for a in await actions_at(bare_client, open_file(bare_client, buggy / "shop" / "stats.py"), 6))
    uri = open_file(bare_client, buggy / "tests" / "test_stats.py")
    actions = await actions_at(bare_client, uri, FAILING_LINE)
    action = next(a for a in actions if a.title == TITLE)
    assert action.kind == types.CodeActionKind.QuickFix
    resolved = await bare_client.code_action_resolve_async(action)
    shown = shown_markdown(bare_client)
    assert "# Fix failing test `tests/test_stats.py::test_median_of_even_count`" in shown
    assert "**AssertionError**: assert 3 == 2.5" in shown and "## Root cause" in shown
    if resolved.edit is not None:
        assert "(verified: parsed, lint clean, tests/test_stats.py::test_median_of_even_count now passes" in resolved.title
        apply_workspace_edit(resolved.edit)
        result = run_pytest(buggy)
        assert result.returncode == 0, result.stdout + result.stderr
    else:
        assert "(not offered: " in resolved.title
        assert "failed verification and was not offered" in shown and "## The model's answer" in shown
        assert (buggy / "shop" / "stats.py").read_text() == STATS


async def test_a_passing_test_is_said_to_pass_and_nothing_is_offered(bare_client: LanguageClient, buggy: Path):
    await start(bare_client, buggy, OPTIONS)
    uri = open_file(bare_client, buggy / "tests" / "test_stats.py")
    action = next(a for a in await actions_at(bare_client, uri, 4) if a.title.startswith("Gemma: Fix failing test"))
    resolved = await bare_client.code_action_resolve_async(action)
    assert resolved.edit is None and resolved.title.endswith("(not offered: the test passes already)")
    assert any("test_median_of_odd_count passes already" in m.message for m in bare_client.messages)
    assert not bare_client.stream  # the model was not asked


async def test_the_command_runs_on_the_editors_unsaved_text(bare_client: LanguageClient, buggy: Path):
    """emacs has no resolve: the command path. The unsaved buffer makes the passing test fail."""
    applied: list[types.ApplyWorkspaceEditParams] = []

    @bare_client.feature(types.WORKSPACE_APPLY_EDIT)
    def apply_edit(params: types.ApplyWorkspaceEditParams):
        applied.append(params)
        return types.ApplyWorkspaceEditResult(applied=True)

    await start(bare_client, buggy, OPTIONS, client_name="emacs")
    path = buggy / "tests" / "test_stats.py"
    uri = open_file(bare_client, path)
    change = types.TextDocumentContentChangeWholeDocument(text=TESTS.replace("== 2\n", "== 3\n"))
    bare_client.text_document_did_change(types.DidChangeTextDocumentParams(types.VersionedTextDocumentIdentifier(uri=uri, version=2), [change]))
    action = next(a for a in await actions_at(bare_client, uri, 4) if a.title == "Gemma: Fix failing test test_median_of_odd_count")
    assert action.command is not None and action.command.command == "gemma-lsp.fixTest"
    ok = await bare_client.workspace_execute_command_async(types.ExecuteCommandParams(command=action.command.command, arguments=action.command.arguments))
    assert bare_client.stream, "the test failed in the editor's text, so the model was asked"
    assert ok is bool(applied)
    if applied:
        assert "verified: parsed, lint clean, tests/test_stats.py::test_median_of_odd_count now passes" in applied[0].label
    else:
        assert any("failed verification" in m.message for m in bare_client.messages)


async def test_a_test_edited_while_the_fix_runs_gets_content_modified(bare_client: LanguageClient, buggy: Path):
    await start(bare_client, buggy, {**OPTIONS, "model": {**OPTIONS["model"], "max_tokens": 200}})
    path = buggy / "tests" / "test_stats.py"
    uri = open_file(bare_client, path)
    action = next(a for a in await actions_at(bare_client, uri, FAILING_LINE) if a.title == TITLE)
    pending = asyncio.ensure_future(bare_client.code_action_resolve_async(action))
    deadline = asyncio.get_running_loop().time() + 120
    while not bare_client.stream and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.02)
    assert bare_client.stream, "the model started"
    change = types.TextDocumentContentChangeWholeDocument(text=TESTS + "\n# edited\n")
    bare_client.text_document_did_change(types.DidChangeTextDocumentParams(types.VersionedTextDocumentIdentifier(uri=uri, version=2), [change]))
    with pytest.raises(JsonRpcException) as error:
        await pending
    assert error.value.code == -32801
