"""Explain and Explain-as-comment through the real server and the real model."""

from __future__ import annotations

import ast
import asyncio
import subprocess

from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from lsp_server.index.python_symbols import parse_python


def cart_uri(client: LanguageClient, workspace: Path) -> str:
    from tests.e2e.conftest import open_file

    return open_file(client, workspace / "shop" / "cart.py")


async def actions_at(client: LanguageClient, uri: str, line: int, character: int = 8) -> list[types.CodeAction]:
    position = types.Position(line, character)
    result = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=types.Range(position, position),
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    return [as_code_action(client, a) for a in result or []]


def as_code_action(client: LanguageClient, item) -> types.CodeAction:
    """pygls' client structures a CodeAction that carries a command as a Command whose
    ``command`` is the whole action printed as a string; undo that on the test side."""
    if isinstance(item, types.Command) and item.command.startswith("{"):
        raw = ast.literal_eval(item.command)
        command = client.protocol._converter.structure(raw, types.Command)
        return types.CodeAction(title=item.title, command=command)
    return item


async def run_action(client: LanguageClient, action: types.CodeAction):
    """Resolve the action, or run its command for clients without resolve support."""
    if action.command is not None:
        return await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=action.command.command, arguments=action.command.arguments)
        )
    return await client.code_action_resolve_async(action)


@pytest.mark.e2e
async def test_explain_streams_and_shows_text_about_the_symbol(client: LanguageClient, workspace: Path):
    uri = cart_uri(client, workspace)
    actions = await actions_at(client, uri, line=12)  # inside Cart.total
    titles = [a.title for a in actions]
    assert "Gemma: Explain Cart.total" in titles
    explain = next(a for a in actions if a.title == "Gemma: Explain Cart.total")
    await run_action(client, explain)

    text = "".join(n["delta"] for n in client.stream)
    assert client.stream and client.stream[-1]["done"]
    assert "total" in text
    assert len(text.replace("`total`", "").strip()) > 0, "the model itself must have written something"
    if client.client_name == "emacs":  # no showDocument: the answer comes as a message
        assert any("Cart.total" in m.message and "total" in m.message for m in client.messages)
    else:
        doc_uri = client.shown_documents[-1].uri
        markdown = Path(doc_uri.removeprefix("file://")).read_text()
        assert "# Explanation of `Cart.total`" in markdown
        assert "shop/pricing.py: apply_discount" in markdown  # the imported definition was in the context
        facts = markdown.index("## Facts read off the code")  # after the answer, before the context table
        assert markdown.index("# Explanation of") < facts < markdown.index("## Context sent to the model")
        assert "- **Signature:** `def total(self, discount=0)`\n- **Returns:** `apply_discount(subtotal, discount)`\n" in markdown
        assert "- **Calls:** `sum`, `apply_discount`\n" in markdown
        reports = [r for values in client.progress_reports.values() for r in values]
        assert any(isinstance(r, types.WorkDoneProgressBegin) for r in reports)
        assert any(isinstance(r, types.WorkDoneProgressEnd) for r in reports)
        prefill = [r for r in reports if isinstance(r, types.WorkDoneProgressReport) and "reading the prompt" in (r.message or "")]
        if client.backend == "local":  # a team server prefills on its side
            assert prefill and prefill[-1].percentage == 100  # the share of the prompt prefilled


@pytest.mark.e2e
async def test_explain_as_comment_keeps_the_file_parseable(client: LanguageClient, workspace: Path):
    uri = cart_uri(client, workspace)
    original = (workspace / "shop" / "cart.py").read_text()
    actions = await actions_at(client, uri, line=18, character=4)  # inside count_items
    action = next(a for a in actions if a.title == "Gemma: Explain count_items as a comment")
    result = await run_action(client, action)

    if action.command is not None:
        assert result is True
        edit = client.applied_edits[-1].edit
    else:
        edit = result.edit
    assert edit is not None
    changes = edit.document_changes or []
    text_edits = changes[0].edits if changes else edit.changes[uri]
    assert len(text_edits) == 1
    inserted = text_edits[0]
    assert inserted.range.start == inserted.range.end == types.Position(17, 0)
    assert all(line.startswith("# ") for line in inserted.new_text.splitlines())
    lines = original.splitlines(keepends=True)
    updated = "".join(lines[:17]) + inserted.new_text + "".join(lines[17:])
    assert not parse_python(updated).has_errors
    assert (workspace / "shop" / "cart.py").read_text() == original  # the server never writes files


@pytest.mark.e2e
async def test_explain_gives_the_model_the_history_of_the_range(bare_client: LanguageClient, workspace: Path):
    from tests.e2e.conftest import MODEL_OPTIONS, open_file, start
    from tests.e2e.test_hover import hover_at

    env = {"GIT_AUTHOR_NAME": "Ada", "GIT_AUTHOR_EMAIL": "ada@example.invalid", "GIT_COMMITTER_NAME": "Ada",
           "GIT_COMMITTER_EMAIL": "ada@example.invalid", "PATH": "/usr/bin:/bin", "HOME": str(workspace)}
    for command in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-q", "-m", "Round discounted prices to cents"]):
        subprocess.run(command, cwd=workspace, env=env, check=True)
    await start(bare_client, workspace, {**MODEL_OPTIONS, "hover": {"explain": False}})
    uri = open_file(bare_client, workspace / "shop" / "pricing.py")
    for _ in range(100):  # git facts are opened with the background index; the hover shows when
        if "Last changes" in (await hover_at(bare_client, uri, 3, 6)).contents.value:
            break
        await asyncio.sleep(0.1)
    action = next(a for a in await actions_at(bare_client, uri, 5) if a.title == "Gemma: Explain apply_discount")
    await run_action(bare_client, action)
    markdown = Path(bare_client.shown_documents[-1].uri.removeprefix("file://")).read_text()
    assert "| history of apply_discount (git log -L) | 1 commit that changed the target's lines |" in markdown
    facts = markdown.split("## Facts read off the code", 1)[1].split("## Context sent to the model", 1)[0]
    assert "- **Raises:** `ValueError`\n" in facts
    assert "- **Used by:** `Cart.total` (shop/cart.py:" in facts  # the caller, from the index
    assert "- **Tested by:** `test_ten_percent_off` (tests/test_pricing.py:" in facts
    assert "- **Last commits:** " in facts and "Ada: Round discounted prices to cents" in facts


@pytest.mark.e2e
async def test_an_opened_file_s_shared_context_is_prefilled_before_the_first_question(bare_client: LanguageClient, workspace: Path):
    """A long window (n_ctx past context.file_ranked_from): opening a file prefills the context its
    functions share (features/prefill.py); Explain on two of its functions then reuses it."""
    import re

    from tests.e2e.conftest import MODEL_OPTIONS, open_file, start
    from tests.e2e.test_bad_input import explain_action, wait_for

    await start(bare_client, workspace, {"model": {**MODEL_OPTIONS["model"], "n_ctx": 20480}})
    uri = open_file(bare_client, workspace / "shop" / "cart.py")
    pattern = re.compile(r"Prefilled the context cart\.py's functions share: (\d+) tokens")
    await wait_for(lambda: any(pattern.search(m.message) for m in bare_client.log_messages), "the prefill", timeout=300)
    shared = int(next(pattern.search(m.message) for m in bare_client.log_messages if pattern.search(m.message)).group(1))
    reused = []
    for line, name in ((12, "Cart.total"), (10, "Cart.add")):
        await run_action(bare_client, explain_action(await actions_at(bare_client, uri, line), name))
        markdown = Path(bare_client.shown_documents[-1].uri.removeprefix("file://")).read_text()
        reused.append(int(re.search(r"prompt tokens \(the model's count; (\d+) reused from the cache", markdown).group(1)))
    assert shared > 100
    assert all(shared - 2 <= n for n in reused), (shared, reused)  # both questions reuse the prefilled part
