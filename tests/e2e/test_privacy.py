"""The guarantee over LSP: where code goes is said once, refused hosts and secret files are refused,
and an unreachable team server leaves the static features working. No model is loaded here."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import ClientServerConfig, LanguageClient

from tests.e2e.conftest import SERVER, free_port, initialize_params, open_file, remote_options
from tests.e2e.test_explain import actions_at

pytestmark = pytest.mark.e2e
CLIENT = "visual-studio-code"


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER))
async def lsp(lsp_client: LanguageClient):
    """A server each test initializes with its own settings."""
    yield
    await lsp_client.shutdown_session()


def messages(client: LanguageClient, kind: types.MessageType, text: str) -> list[str]:
    return [m.message for m in client.messages if m.type == kind and text in m.message]


async def explain_cart_total(client: LanguageClient, workspace: Path) -> list[str]:
    """Offer the actions on Cart.total, then resolve Explain, which must fail."""
    uri = open_file(client, workspace / "shop" / "cart.py")
    actions = await actions_at(client, uri, line=12)
    assert "Gemma: Explain Cart.total" in [a.title for a in actions], "code actions are offered without the model"
    with pytest.raises(JsonRpcException):
        await client.code_action_resolve_async(next(a for a in actions if a.title == "Gemma: Explain Cart.total"))
    return [m.message for m in client.messages if m.type == types.MessageType.Error]


async def test_unreachable_team_server_gives_one_clear_message(lsp: LanguageClient, workspace: Path):
    url = f"http://127.0.0.1:{free_port()}/v1"
    await lsp.initialize_session(initialize_params(CLIENT, workspace, remote_options(url, retries=1, timeout_seconds=2)))
    errors = await explain_cart_total(lsp, workspace)
    assert len(errors) == 1, errors
    assert url in errors[0] and "did not answer" in errors[0]
    assert len(messages(lsp, types.MessageType.Info, f"sends the code it packs into prompts to {url}")) == 1


async def test_notice_is_shown_once_per_destination(lsp: LanguageClient, workspace: Path):
    url = f"http://127.0.0.1:{free_port()}/v1"
    await lsp.initialize_session(initialize_params(CLIENT, workspace, remote_options(url)))
    settings = {"gemmaLsp": remote_options(url, retries=3)}
    lsp.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=settings))
    await actions_at(lsp, open_file(lsp, workspace / "shop" / "cart.py"), line=12)  # a round trip after the change
    await asyncio.sleep(0.2)
    notices = messages(lsp, types.MessageType.Info, "sends the code")
    assert len(notices) == 1 and "this machine (loopback)" in notices[0]


async def test_host_not_in_the_allowlist_is_refused(lsp: LanguageClient, workspace: Path):
    url = "http://gpu-box.invalid:8000/v1"  # never contacted: refused before any connection
    await lsp.initialize_session(initialize_params(CLIENT, workspace, remote_options(url)))
    errors = await explain_cart_total(lsp, workspace)
    assert errors and all("refuses to send code to gpu-box.invalid" in e and "remote.allowed_hosts" in e for e in errors)
    assert not messages(lsp, types.MessageType.Info, "sends the code")


async def test_a_secret_file_is_refused_with_a_clear_message(lsp: LanguageClient, workspace: Path):
    secret = workspace / "shop" / "secret_prices.py"
    secret.write_text('def vendor_key():\n    return "CANARY-lsp-11aa"\n')
    await lsp.initialize_session(initialize_params(CLIENT, workspace))
    uri = open_file(lsp, secret)
    actions = await actions_at(lsp, uri, line=1)
    with pytest.raises(JsonRpcException):
        await lsp.code_action_resolve_async(next(a for a in actions if a.title == "Gemma: Explain vendor_key"))
    errors = messages(lsp, types.MessageType.Error, "does not send secret_prices.py")
    assert len(errors) == 1 and ".gemma-lsp-secrets" in errors[0]
