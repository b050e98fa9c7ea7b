"""Bad input gets a clear message, the server keeps serving, and nothing is written."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from tests.e2e.conftest import open_file, start
from tests.e2e.test_explain import actions_at

pytestmark = pytest.mark.e2e


def explain_action(actions: list[types.CodeAction], name: str) -> types.CodeAction:
    return next(a for a in actions if a.title == f"Gemma: Explain {name}")


async def expect_error(request) -> JsonRpcException:
    with pytest.raises(JsonRpcException) as error:
        await request
    return error.value


async def test_missing_model_is_a_clear_message_and_static_features_go_on(bare_client: LanguageClient, workspace: Path):
    await start(bare_client, workspace, {"model": {"path": str(workspace / "nope.gguf")}})
    uri = open_file(bare_client, workspace / "shop" / "cart.py")
    action = explain_action(await actions_at(bare_client, uri, 12), "Cart.total")
    error = await expect_error(bare_client.code_action_resolve_async(action))
    assert "does not exist" in error.message and "GEMMA_LSP_MODEL" in error.message
    assert any("does not exist" in m.message for m in bare_client.messages)
    assert [a.title for a in await actions_at(bare_client, uri, 18, 4)][0] == "Gemma: Explain count_items"


async def test_a_file_that_is_not_gguf(bare_client: LanguageClient, workspace: Path):
    fake = workspace / "weights.gguf"
    fake.write_text("this is not a model")
    await start(bare_client, workspace, {"model": {"path": str(fake)}})
    uri = open_file(bare_client, workspace / "shop" / "cart.py")
    error = await expect_error(bare_client.code_action_resolve_async(explain_action(await actions_at(bare_client, uri, 12), "Cart.total")))
    assert "not a GGUF file" in error.message
    assert fake.read_text() == "this is not a model"


async def test_bad_settings_are_reported_and_defaults_used(bare_client: LanguageClient, workspace: Path):
    await start(bare_client, workspace, {"model": {"nCtx": "huge"}, "colour": "blue"})
    await asyncio.sleep(0.2)
    assert any("n_ctx" in m.message and "colour" in m.message for m in bare_client.messages)


async def test_a_position_outside_the_document(bare_client: LanguageClient, workspace: Path):
    await start(bare_client, workspace, {})
    uri = open_file(bare_client, workspace / "shop" / "cart.py")
    error = await expect_error(actions_at(bare_client, uri, 500))
    assert "outside cart.py" in error.message and "19 lines" in error.message
    assert [a.title for a in await actions_at(bare_client, uri, 12)][0] == "Gemma: Explain Cart.total"


async def test_a_file_the_server_never_saw(bare_client: LanguageClient, workspace: Path):
    await start(bare_client, workspace, {})
    missing = (workspace / "shop" / "ghost.py").as_uri()
    error = await expect_error(actions_at(bare_client, missing, 1))
    assert "ghost.py" in error.message and "not open" in error.message
    assert not (workspace / "shop" / "ghost.py").exists()


async def test_a_client_without_resolve_or_show_document_gets_commands_and_a_message(bare_client: LanguageClient, workspace: Path):
    await start(bare_client, workspace, {"model": {"n_ctx": 2048, "max_tokens": 32, "temperature": 0.0}}, client_name="emacs")
    uri = open_file(bare_client, workspace / "shop" / "pricing.py")
    before = (workspace / "shop" / "pricing.py").read_text()
    action = explain_action(await actions_at(bare_client, uri, 5), "apply_discount")
    assert action.data is None and action.command is not None  # no resolve: a command instead
    await bare_client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=action.command.command, arguments=action.command.arguments)
    )
    assert not bare_client.shown_documents
    assert any(m.message.startswith("apply_discount: `apply_discount`") for m in bare_client.messages)
    assert (workspace / "shop" / "pricing.py").read_text() == before


async def test_cancel_stops_generation_and_frees_the_worker(bare_client: LanguageClient, workspace: Path):
    big = workspace / "shop" / "big.py"
    # The target itself is long, so its prefill (whatever the context around it) takes seconds.
    body = "".join(f"    value = step_{i % 7}(value) * {i} - len(str(value))\n" for i in range(600))
    big.write_text("".join(f"def step_{i}(value):\n    return value + {i}\n\n\n" for i in range(7)) + f"def last(value):\n{body}    return value\n")
    # Without the bundled adapter: the untuned model writes on to max_tokens, so the cancel lands in
    # the generation; the adapter's answers can end within the 0.3 s below (then nothing is left to stop).
    await start(bare_client, workspace, {"model": {"n_ctx": 4096, "max_tokens": 512, "lora_path": "none"}, "logLevel": "info"})
    uri = open_file(bare_client, big)
    action = explain_action(await actions_at(bare_client, uri, 29, 4), "last")
    pending = asyncio.ensure_future(
        bare_client.protocol.send_request_async(types.CODE_ACTION_RESOLVE, action, msg_id="explain-to-cancel")
    )
    # The stream's first notification comes when the request starts (the editors clear their
    # last answer); the model generates once text comes.
    await wait_for(lambda: any(n["delta"] for n in bare_client.stream), "the answer to start streaming")
    await asyncio.sleep(0.3)  # the answer's first words come before the prefill of ~3,000 tokens
    cancelled_at = time.monotonic()
    bare_client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="explain-to-cancel"))
    error = await expect_error(pending)
    assert error.code == -32800
    await wait_for(lambda: any("worker is free" in m.message for m in bare_client.log_messages), "the worker to report it is free")
    freed_after = time.monotonic() - cancelled_at
    print(f"worker free {freed_after:.3f} s after the cancel")
    # Not a speed target (that is the cancellation figure in RESULTS.md): the 512-token answer would
    # run for half a minute here, so a worker free within a few seconds was stopped, not finished,
    # whatever else loads the 2 cores (1.04 s was seen under load against 0.1-0.3 s quiet).
    assert freed_after < 5.0, f"the worker took {freed_after:.2f} s to stop"
    # The next request is served by the same worker.
    small = explain_action(await actions_at(bare_client, open_file(bare_client, workspace / "shop" / "pricing.py"), 5), "apply_discount")
    await bare_client.code_action_resolve_async(small)
    assert bare_client.shown_documents


async def wait_for(condition, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)
