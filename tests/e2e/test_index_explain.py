"""The workspace index feeds Explain: the manifest names a test and a caller found by the index."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from tests.e2e.conftest import SERVER, collect_stream, edits_applied_by, initialize_params, open_file
from tests.e2e.test_explain import actions_at, run_action

EXTRA_FILES = {
    # Neither imports nor is imported by cart.py's imports: only the index can find them.
    "tests/test_cart.py": "from shop.cart import Cart\n\n\ndef test_total_applies_the_discount():\n    cart = Cart()\n    cart.add('tea', 10.0)\n    assert cart.total(discount=10) == 9.0\n",
    "shop/checkout.py": "from shop.cart import Cart\n\n\ndef receipt(cart: Cart) -> str:\n    return f'Total: {cart.total()}'\n",
}


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER), params=["visual-studio-code"])
async def client(request, lsp_client: LanguageClient, workspace: Path):
    for name, text in EXTRA_FILES.items():
        (workspace / name).parent.mkdir(parents=True, exist_ok=True)
        (workspace / name).write_text(text)
    lsp_client.client_name = request.param
    lsp_client.stream = collect_stream(lsp_client)
    lsp_client.applied_edits = edits_applied_by(lsp_client)
    await lsp_client.initialize_session(initialize_params(request.param, workspace))
    yield
    await lsp_client.shutdown_session()


async def indexing_finished(client: LanguageClient, timeout: float = 30.0) -> types.WorkDoneProgressEnd:
    for _ in range(int(timeout * 10)):
        for reports in list(client.progress_reports.values()):
            if reports and isinstance(reports[0], types.WorkDoneProgressBegin) and reports[0].title == "Indexing the workspace":
                if isinstance(reports[-1], types.WorkDoneProgressEnd):
                    return reports[-1]
        await asyncio.sleep(0.1)
    raise AssertionError("the index never reported the end of its build")


@pytest.mark.e2e
async def test_explain_manifest_includes_the_test_and_caller_found_by_the_index(client: LanguageClient, workspace: Path):
    end = await indexing_finished(client)
    assert end.message.startswith("7 files")  # the 5 of the fixture workspace and the 2 above
    uri = open_file(client, workspace / "shop" / "cart.py")
    explain = next(a for a in await actions_at(client, uri, line=12) if a.title == "Gemma: Explain Cart.total")
    await run_action(client, explain)

    markdown = Path(client.shown_documents[-1].uri.removeprefix("file://")).read_text()
    assert "| tests/test_cart.py: test_total_applies_the_discount | tests the target |" in markdown
    assert "| shop/checkout.py: receipt | uses the target |" in markdown
    assert "| shop/pricing.py: apply_discount | used by the target |" in markdown
