"""The in-process backend on the real bundled model: cache reuse, cutting, cancellation."""

from __future__ import annotations

import pytest

from lsp_server.config import ModelSettings
from lsp_server.errors import GenerationCancelled
from lsp_server.model.backend import CancelToken, GenerationRequest
from lsp_server.model.llama_backend import LlamaCppBackend

pytestmark = pytest.mark.e2e
CODE = "def fibonacci(n):\n    if n < 2:\n        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)\n\n\ndef "


@pytest.fixture(scope="module")
def backend():
    backend = LlamaCppBackend(ModelSettings(n_ctx=1024, temperature=0.0))
    backend.load()
    yield backend
    backend.close()


def generate(backend, text: str, max_tokens: int = 16, **kwargs):
    pieces: list[str] = []
    request = GenerationRequest(text=text, max_tokens=max_tokens, temperature=0.0, **kwargs)
    result = backend.submit(request, pieces.append, CancelToken()).result(timeout=120)
    assert "".join(pieces) == result.text  # what streamed is what was returned
    return result


def test_a_reused_prefix_gives_the_same_answer_as_a_cold_start(backend):
    generate(backend, "x = 1\n" * 20)  # fill the cache with something else
    cold = generate(backend, CODE)
    warm_other = generate(backend, CODE.rsplit("def ", 1)[0] + "class ")  # shares a long prefix
    warm = generate(backend, CODE)
    assert warm_other.cached_tokens > 20
    assert warm.cached_tokens >= cold.prompt_tokens - 2
    assert warm.text == cold.text and cold.text.strip()


def test_a_prompt_longer_than_the_window_is_cut_not_refused(backend):
    long_text = "# header line kept\n" + "value = compute(value)\n" * 800 + CODE
    result = generate(backend, long_text, max_tokens=8)
    assert result.prompt_cut_tokens > 0
    assert result.prompt_tokens + 8 <= 1024
    assert result.completion_tokens > 0


def test_the_answer_prefix_comes_first(backend):
    result = generate(backend, "### Code\nx = 1\n### Explanation\n", answer_prefix="`x`", stop=("###",))
    assert result.text.startswith("`x`")


def test_a_token_cancelled_before_the_start_is_refused(backend):
    cancel = CancelToken()
    cancel.cancel()
    future = backend.submit(GenerationRequest(text=CODE), lambda _: None, cancel)
    with pytest.raises(GenerationCancelled):
        future.result(timeout=30)
    assert generate(backend, CODE, max_tokens=4).completion_tokens > 0  # still serving


def test_cancel_during_decode_stops_at_once(backend):
    cancel = CancelToken()
    pieces: list[str] = []

    def on_text(piece: str) -> None:
        pieces.append(piece)
        if len(pieces) == 3:
            cancel.cancel()

    future = backend.submit(GenerationRequest(text=CODE, max_tokens=200, temperature=0.0), on_text, cancel)
    with pytest.raises(GenerationCancelled):
        future.result(timeout=60)
    assert 3 <= len(pieces) <= 4
