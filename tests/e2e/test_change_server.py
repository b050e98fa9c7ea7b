"""Change... through the real server: the code action and the command, scripted multi-file
answers from a team server on loopback (the proposal is verified in the jail, then offered as one
WorkspaceEdit over every file), a follow-up that refines it, and the real bundled model."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.e2e.conftest import edits_applied_by, open_file, remote_options, start
from tests.e2e.fake_team_server import FakeTeamServer
from tests.e2e.test_edit_actions import OPTIONS, apply_workspace_edit, assert_verified_or_explained, run_pytest
from tests.e2e.test_explain import actions_at

pytestmark = pytest.mark.e2e
INSTRUCTION = "Give 5 percent more off for 10 or more items: a helper in pricing, used by the cart; test it."


def file_block(path: str, code: str) -> str:
    """One file of an answer in the default format: the path, then complete definitions."""
    return f"### File: {path}\n```python\n{code}```\n"


CART = """class Cart:
    def __init__(self):
        self.items = []

    def add(self, name, price, quantity=1):
        self.items.append((name, price, quantity))

    def total(self, discount=0):
        subtotal = sum(price * quantity for _, price, quantity in self.items)
        extra = bulk_percent(count_items(self))
        return apply_discount(subtotal, min(100, discount + extra))
"""
BULK = (
    file_block("shop/pricing.py", "def bulk_percent(quantity):\n    return 5 if quantity >= 10 else 0\n")
    + file_block("shop/cart.py", CART)
    + file_block("tests/test_bulk.py", "from shop.cart import Cart\n\n\ndef test_ten_items_get_five_percent_off():\n"
                 "    cart = Cart()\n    cart.add('pen', 10, 10)\n    assert cart.total() == 95\n")
)
MORE = file_block("shop/pricing.py", "def bulk_percent(quantity):\n    if quantity >= 20:\n        return 7\n    return 5 if quantity >= 10 else 0\n")


def answer(body: dict) -> str:
    prompt = body.get("prompt") or "".join(m.get("content", "") for m in body.get("messages", []))
    return MORE if "from 20 items" in prompt else BULK


def scripted(url: str) -> dict:
    """A team server answering as a chat model does: the answer is the whole text, no prefix."""
    options = remote_options(url)
    return {**options, "model": {**options["model"], "prompt_style": "chat"}, "verify": {"timeoutSeconds": 60}}


async def change_action(client: LanguageClient, uri: str, line: int, instruction: str, refine: bool = False) -> types.CodeAction:
    action = next(a for a in await actions_at(client, uri, line) if a.title.startswith("Gemma: Change ") and a.title.endswith("..."))
    action.data = {**action.data, "instruction": instruction, **({"refine": True} if refine else {})}
    return await client.code_action_resolve_async(action)


async def test_a_multi_file_change_is_verified_then_offered_as_one_edit(bare_client: LanguageClient, workspace: Path):
    with FakeTeamServer(answer) as fake:
        await start(bare_client, workspace, scripted(fake.url))
        uri = open_file(bare_client, workspace / "shop" / "cart.py")
        resolved = await change_action(bare_client, uri, 13, INSTRUCTION)
    assert resolved.edit is not None, resolved.title
    assert "(verified: " in resolved.title and "pass" in resolved.title, resolved.title
    changes = resolved.edit.document_changes
    created = [c.uri for c in changes if isinstance(c, types.CreateFile)]
    edited = [Path(c.text_document.uri).name for c in changes if isinstance(c, types.TextDocumentEdit)]
    assert created == [(workspace / "tests" / "test_bulk.py").as_uri()] and sorted(edited) == ["cart.py", "pricing.py", "test_bulk.py"]
    assert all(c.options.overwrite is False for c in changes if isinstance(c, types.CreateFile)), "a new file never overwrites one"
    assert "count_items" in fake.all_text(), "the cart's code was in the prompt"
    apply_workspace_edit(resolved.edit)
    result = run_pytest(workspace)
    assert result.returncode == 0 and "2 passed" in result.stdout, result.stdout + result.stderr


async def test_a_follow_up_refines_the_last_proposal_and_the_command_applies_it(bare_client: LanguageClient, workspace: Path):
    with FakeTeamServer(answer) as fake:
        await start(bare_client, workspace, scripted(fake.url))
        uri = open_file(bare_client, workspace / "shop" / "cart.py")
        first = await change_action(bare_client, uri, 13, INSTRUCTION)
        assert first.edit is not None, first.title
        rng = {"start": {"line": 13, "character": 4}, "end": {"line": 13, "character": 4}}
        applied = edits_applied_by(bare_client)
        ok = await bare_client.workspace_execute_command_async(
            types.ExecuteCommandParams("gemma-lsp.change", [uri, rng, "Also give 7 percent off from 20 items", {"refine": True}]))
    assert ok is True and applied, "the command ends in workspace/applyEdit"
    follow_up = fake.prompts[-1]
    assert "bulk_percent" in follow_up and INSTRUCTION in follow_up, "the follow-up shows the last proposal and its instruction"
    apply_workspace_edit(applied[-1].edit)
    pricing = (workspace / "shop" / "pricing.py").read_text()
    assert "def bulk_percent" in pricing and "return 7" in pricing, "the edit carries the first proposal and the follow-up"
    assert run_pytest(workspace).returncode == 0


async def test_a_change_without_an_instruction_is_refused_with_what_to_do(bare_client: LanguageClient, workspace: Path):
    await start(bare_client, workspace, OPTIONS)
    uri = open_file(bare_client, workspace / "shop" / "cart.py")
    with pytest.raises(Exception, match="needs an instruction"):
        await change_action(bare_client, uri, 13, "  ")


async def test_change_on_the_bundled_model_is_verified_or_explained(bare_client: LanguageClient, workspace: Path):
    """The tiny model rarely writes a working change; either outcome must be the honest one."""
    await start(bare_client, workspace, {**OPTIONS, "model": {**OPTIONS["model"], "max_tokens": 160}})
    uri = open_file(bare_client, workspace / "shop" / "pricing.py")
    resolved = await change_action(bare_client, uri, 5, "Reject a price below zero with ValueError")
    assert_verified_or_explained(bare_client, resolved, workspace)


async def test_outside_every_definition_change_is_offered_on_the_whole_file(bare_client: LanguageClient, workspace: Path):
    await start(bare_client, workspace, OPTIONS)
    uri = open_file(bare_client, workspace / "shop" / "cart.py")
    actions = await actions_at(bare_client, uri, 0)  # the module docstring
    assert [a.title for a in actions] == ["Gemma: Change cart.py..."]
    whole = actions[0].data["range"]
    lines = (workspace / "shop" / "cart.py").read_text().count("\n")
    assert whole["start"] == {"line": 0, "character": 0} and whole["end"]["line"] == lines
