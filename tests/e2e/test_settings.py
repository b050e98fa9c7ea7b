"""Settings pulled with workspace/configuration override initializationOptions."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pytest_lsp import LanguageClient

from tests.e2e.conftest import open_file, start
from tests.e2e.test_explain import actions_at

pytestmark = pytest.mark.e2e


async def test_workspace_configuration_is_pulled_and_used(bare_client: LanguageClient, workspace: Path):
    bare_client.set_configuration({"model": {"maxTokens": 3}}, section="gemmaLsp")
    await start(bare_client, workspace, {"model": {"n_ctx": 2048, "max_tokens": 40, "temperature": 0.0}})
    uri = open_file(bare_client, workspace / "shop" / "cart.py")
    action = next(a for a in await actions_at(bare_client, uri, 12) if a.title == "Gemma: Explain Cart.total")
    await bare_client.code_action_resolve_async(action)
    markdown = Path(bare_client.shown_documents[-1].uri.removeprefix("file://")).read_text()
    generated = int(re.search(r"(\d+) generated", markdown).group(1))
    assert 0 < generated <= 3
