"""``gemma/status`` through the real server and model: what the status bars show."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pytest_lsp import LanguageClient

from tests.e2e.conftest import MODEL_OPTIONS, open_file, remote_options, start
from tests.e2e.test_explain import actions_at, run_action

pytestmark = pytest.mark.e2e
KEYS = {"model", "loaded", "backend", "gpu_layers", "n_ctx", "context_tokens_last", "prompt_tokens_last", "busy", "running"}


async def status(client: LanguageClient) -> dict:
    result = await client.protocol.send_request_async("gemma/status", {})
    return result if isinstance(result, dict) else result._asdict()  # pygls: a namedtuple for custom methods


@pytest.mark.parametrize("backend", ["local", "remote"])
async def test_status_reports_the_model_and_busy_while_an_action_runs(bare_client: LanguageClient, workspace: Path, backend: str, request):
    options = MODEL_OPTIONS if backend == "local" else remote_options(request.getfixturevalue("remote_engine"))
    await start(bare_client, workspace, options)
    before = await status(bare_client)
    assert set(before) == KEYS
    assert before["loaded"] is False and before["busy"] is False and before["running"] == 0
    assert before["context_tokens_last"] is None and before["n_ctx"] == 2048
    assert (before["backend"] == "remote") == (backend == "remote") and before["backend"] in ("gpu", "cpu", "remote")

    uri = open_file(bare_client, workspace / "shop" / "cart.py")
    explain = next(a for a in await actions_at(bare_client, uri, 12) if a.title == "Gemma: Explain Cart.total")
    running = asyncio.ensure_future(run_action(bare_client, explain))
    deadline = asyncio.get_running_loop().time() + 120
    during = await status(bare_client)
    while not during["busy"] and not running.done() and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
        during = await status(bare_client)
    await running
    assert during["busy"] is True and during["running"] == 1, "status answers while the model works"

    after = await status(bare_client)
    assert after["busy"] is False and after["running"] == 0 and after["loaded"] is True
    assert after["model"] and after["n_ctx"] > 0
    assert after["context_tokens_last"] > 0, "the packed context of Explain Cart.total"
    if backend == "local":
        assert after["n_ctx"] == 2048
        # One token count, the model's: the status bar's "prompt N" is the document's "N prompt tokens".
        document = Path(bare_client.shown_documents[-1].uri.removeprefix("file://")).read_text()
        assert f"{after['prompt_tokens_last']} prompt tokens" in document
        assert after["backend"] in ("gpu", "cpu") and (after["backend"] == "cpu") == (after["gpu_layers"] == 0)
