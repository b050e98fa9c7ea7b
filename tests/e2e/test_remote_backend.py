"""The OpenAI backend against a real engine on loopback (llama-cpp-python's server, bundled model)."""

from __future__ import annotations

import threading
import time

import pytest

from lsp_server.config import ModelSettings, RemoteSettings
from lsp_server.errors import GenerationCancelled
from lsp_server.model.backend import CancelToken, GenerationRequest
from lsp_server.model.openai_backend import OpenAIBackend, RemoteConfigError, RemoteUnreachable
from tests.e2e.conftest import REMOTE_MODEL, free_port

pytestmark = pytest.mark.e2e


@pytest.fixture
def backend(remote_engine: str):
    remote = RemoteSettings(url=remote_engine, model=REMOTE_MODEL, llama_server_cache=True, retries=0, timeout_seconds=30)
    backend = OpenAIBackend(remote, ModelSettings(prompt_style="completion"))
    yield backend
    backend.close()


def test_load_describes_the_served_model(backend: OpenAIBackend, remote_engine: str):
    info = backend.load()
    assert (info.name, info.source, info.path, info.prompt_style) == (REMOTE_MODEL, "remote", remote_engine, "completion")


def test_tokens_are_counted_by_the_servers_tokenizer(backend: OpenAIBackend):
    from llama_cpp import Llama

    from lsp_server.model.resolve import bundled_model_path

    text = "def total(self, discount=0):\n    return apply_discount(subtotal, discount)\n"
    vocab = Llama(model_path=str(bundled_model_path()), vocab_only=True, verbose=False)
    assert backend.count_tokens(text) == len(vocab.tokenize(text.encode(), add_bos=True, special=True))


def test_answer_prefix_comes_first_and_stop_strings_end_the_answer(backend: OpenAIBackend):
    pieces: list[str] = []
    request = GenerationRequest(
        text="### Code\ndef add(a, b):\n    return a + b\n### Explanation\n",
        answer_prefix="`add`",
        stop=("###", "\n\n"),
        max_tokens=32,
        temperature=0.0,
    )
    generation = backend.submit(request, pieces.append, CancelToken()).result(timeout=60)
    assert pieces[0] == "`add`"
    assert generation.text == "".join(pieces) and generation.text.startswith("`add`")
    assert "###" not in generation.text and len(generation.text) > len("`add`")
    assert generation.stop_reason in ("stop", "length") and generation.prompt_tokens > 10


def test_cancelling_closes_the_stream_at_once(backend: OpenAIBackend):
    cancel, started = CancelToken(), threading.Event()
    pieces: list[str] = []

    def on_text(piece: str) -> None:
        pieces.append(piece)
        started.set()

    request = GenerationRequest(text="Count: 1, 2, 3, 4, 5, 6,", max_tokens=400, temperature=0.0)
    future = backend.submit(request, on_text, cancel)
    assert started.wait(60)
    cancel.cancel()
    asked = time.monotonic()
    with pytest.raises(GenerationCancelled):
        future.result(timeout=10)
    assert time.monotonic() - asked < 2.0
    assert len(pieces) < 400
    after = backend.submit(GenerationRequest(text="x = ", max_tokens=4, temperature=0.0), lambda piece: None, CancelToken())
    assert after.result(timeout=60).completion_tokens >= 1, "the server keeps serving after a closed stream"


def test_unreachable_server_is_one_typed_error_naming_the_url():
    url = f"http://127.0.0.1:{free_port()}/v1"
    backend = OpenAIBackend(RemoteSettings(url=url, retries=1, timeout_seconds=2), ModelSettings())
    with pytest.raises(RemoteUnreachable, match=r"did not answer .* after 2 attempt") as failure:
        backend.load()
    assert url in str(failure.value) and "running" in str(failure.value)
    backend.close()


def test_closing_the_backend_cancels_the_running_request(remote_engine: str):
    backend = OpenAIBackend(RemoteSettings(url=remote_engine, model=REMOTE_MODEL, retries=0), ModelSettings(prompt_style="completion"))
    started = threading.Event()
    future = backend.submit(GenerationRequest(text="Count: 1, 2, 3,", max_tokens=400), lambda piece: started.set(), CancelToken())
    assert started.wait(60)
    backend.close()
    with pytest.raises(GenerationCancelled):
        future.result(timeout=5)


def test_proxy_variables_are_ignored(remote_engine: str, monkeypatch):
    """Code goes to remote.url itself: a proxy from the environment (here a dead one) is not used."""
    dead = f"http://127.0.0.1:{free_port()}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, dead)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    backend = OpenAIBackend(RemoteSettings(url=remote_engine, retries=0, timeout_seconds=5), ModelSettings())
    assert backend.load().source == "remote"
    backend.close()


def test_a_url_without_the_api_base_says_what_to_set(remote_engine: str):
    backend = OpenAIBackend(RemoteSettings(url=remote_engine.removesuffix("/v1"), retries=0), ModelSettings())
    with pytest.raises(RemoteConfigError, match=r"HTTP 404.*must be the API base"):
        backend.load()
    backend.close()
