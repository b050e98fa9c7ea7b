"""The stream's words and end states: what the editors show while a request runs, and how it ended."""

from __future__ import annotations

import asyncio
import itertools
import threading
from types import SimpleNamespace

from lsprotocol import types

from lsp_server.features.stream import STREAM_NOTIFICATION, Streamer
from lsp_server.model.backend import CancelToken


class Progress:
    def __init__(self) -> None:
        self.tokens: dict = {}
        self.sent: list = []

    async def create_async(self, token):
        self.tokens[token] = asyncio.get_running_loop().create_future()

    def begin(self, token, value):
        self.sent.append(value)

    report = end = begin


def server(loaded: bool) -> SimpleNamespace:
    notified = []
    caps = types.ClientCapabilities(window=types.WindowClientCapabilities(work_done_progress=True))
    return SimpleNamespace(
        client_capabilities=caps, work_done_progress=Progress(), stream_ids=itertools.count(1), last_prompt_tokens=None,
        assistant=SimpleNamespace(model_loaded=loaded), notified=notified,
        protocol=SimpleNamespace(notify=lambda method, params: notified.append((method, params))),
    )


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_it_says_what_happens_in_order_and_ends_with_an_outcome():
    ls = server(loaded=False)
    streamer = Streamer(ls, "Explaining add", "file:///a.py", CancelToken())
    await streamer.begin()
    streamer.on_prefill(512, 1024)
    streamer.on_prefill(1024, 1024)
    streamer.on_text("`add` adds")
    await settle()
    worker = threading.Thread(target=streamer.stage, args=("verifying: running 2 test files",))
    worker.start()
    worker.join()
    await settle()
    streamer.end("24 tokens")
    messages = [v.message for v in ls.work_done_progress.sent]
    assert messages == ["loading the model", "reading the prompt: 512 of 1024 tokens", "reading the prompt: 1024 of 1024 tokens",
                        "writing the answer", "verifying: running 2 test files", "24 tokens"]
    params = [p for method, p in ls.notified if method == STREAM_NOTIFICATION]
    assert params[0]["delta"] == "" and not params[0]["done"], "the first notification clears the editors' last request"
    stages = [p["stage"] for p in params if "stage" in p]
    assert stages == messages[:-1], "the editors show the progress report's own words"
    assert "".join(p["delta"] for p in params) == "`add` adds"
    assert params[-1]["done"] and params[-1]["outcome"] == "done" and params[-1]["message"] == "24 tokens"
    assert ls.last_prompt_tokens == 1024 and streamer.prompt_tokens == 1024


async def test_a_loaded_model_is_not_said_to_load_and_ends_are_named():
    ls = server(loaded=True)
    streamer = Streamer(ls, "Refactoring f", "file:///a.py", CancelToken())
    await streamer.begin()
    assert ls.work_done_progress.sent[0].message == "reading the prompt"
    streamer.end("cancelled")
    streamer.end("failed")  # a second end changes nothing
    streamer.verdict("rejected", "the tests use `Decimal` without importing it")
    ends = [p for _, p in ls.notified if p["done"]]
    assert [(p["outcome"], p["message"]) for p in ends] == [
        ("cancelled", "cancelled"), ("rejected", "the tests use `Decimal` without importing it")]
    assert ends[-1]["id"] == ends[0]["id"], "the verdict marks the same request"
