"""Hover: static facts at once, the model's explanation cached by content."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.e2e.conftest import open_file, start

pytestmark = pytest.mark.e2e


async def hover_at(client: LanguageClient, uri: str, line: int, character: int) -> types.Hover | None:
    return await client.text_document_hover_async(types.HoverParams(types.TextDocumentIdentifier(uri), types.Position(line, character)))


async def test_hover_over_an_imported_function_shows_its_facts_then_its_explanation(bare_client: LanguageClient, workspace: Path):
    await start(bare_client, workspace, {"model": {"n_ctx": 2048, "temperature": 0.0}, "hover": {"waitSeconds": 0.05, "maxTokens": 24}})
    uri = open_file(bare_client, workspace / "shop" / "cart.py")
    first = await hover_at(bare_client, uri, 14, 16)  # the call of apply_discount in Cart.total
    assert first is not None
    text = first.contents.value
    assert "def apply_discount(price, percent):" in text
    assert "function in `pricing.py`, line 4" in text and "Return the price reduced by a percentage." in text
    deadline = time.monotonic() + 120
    while "---" not in text and time.monotonic() < deadline:  # the explanation finishes in the background
        await asyncio.sleep(0.5)
        text = (await hover_at(bare_client, uri, 14, 16)).contents.value
    assert "---" in text and text.split("---", 1)[1].strip()


async def test_hover_over_a_method_names_its_class_and_bases(bare_client: LanguageClient, workspace: Path):
    (workspace / "shop" / "special.py").write_text("from shop.cart import Cart\n\n\nclass GiftCart(Cart, object):\n    def total(self, discount=0):\n        return 0\n")
    await start(bare_client, workspace, {"hover": {"explain": False}})
    uri = open_file(bare_client, workspace / "shop" / "special.py")
    result = await hover_at(bare_client, uri, 4, 9)
    assert "defined by class `GiftCart` (bases: `Cart`, `object`)" in result.contents.value


async def test_no_hover_on_whitespace_or_keywords(bare_client: LanguageClient, workspace: Path):
    await start(bare_client, workspace, {"hover": {"explain": False}})
    uri = open_file(bare_client, workspace / "shop" / "cart.py")
    assert await hover_at(bare_client, uri, 1, 0) is None
    assert await hover_at(bare_client, uri, 5, 1) is None  # "class" keyword


async def test_hover_names_the_commits_that_shaped_the_code(bare_client: LanguageClient, workspace: Path):
    import subprocess

    env = {"GIT_AUTHOR_NAME": "Ada", "GIT_AUTHOR_EMAIL": "ada@example.invalid", "GIT_COMMITTER_NAME": "Ada",
           "GIT_COMMITTER_EMAIL": "ada@example.invalid", "PATH": "/usr/bin:/bin", "HOME": str(workspace)}
    for command in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-q", "-m", "Round discounted prices to cents"]):
        subprocess.run(command, cwd=workspace, env=env, check=True)
    await start(bare_client, workspace, {"hover": {"explain": False}})
    uri = open_file(bare_client, workspace / "shop" / "pricing.py")
    for _ in range(100):  # git facts are opened with the background index
        text = (await hover_at(bare_client, uri, 3, 6)).contents.value
        if "Last changes" in text:
            break
        await asyncio.sleep(0.1)
    assert "Last changes: " in text and "Ada: Round discounted prices to cents" in text
