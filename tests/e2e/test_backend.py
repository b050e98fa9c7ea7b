"""The in-process backend on the real bundled model: cache reuse, cutting, cancellation."""

from __future__ import annotations

import ctypes

import llama_cpp
import numpy as np
import pytest

from lsp_server.config import ModelSettings
from lsp_server.errors import GenerationCancelled
from lsp_server.model.backend import CancelToken, GenerationRequest, RunOptions
from lsp_server.model.llama_backend import LlamaCppBackend
from lsp_server.model.llama_engine import SEQ, SWA_ONLY

pytestmark = pytest.mark.e2e
CODE = "def fibonacci(n):\n    if n < 2:\n        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)\n\n\ndef "


@pytest.fixture(scope="module")
def backend():
    backend = LlamaCppBackend(ModelSettings(n_ctx=1024, temperature=0.0))
    backend.load()
    yield backend
    backend.close()


def generate(backend, text: str, max_tokens: int = 16, speculative: bool = False, **kwargs):
    pieces: list[str] = []
    request = GenerationRequest(text=text, max_tokens=max_tokens, temperature=0.0, **kwargs)
    result = backend.submit(request, pieces.append, CancelToken(), RunOptions(speculative=speculative)).result(timeout=120)
    assert "".join(pieces) == result.text  # what streamed is what was returned
    return result


def test_a_seed_reaches_the_sampler(backend):
    """What a second answer to a refused edit relies on (pipeline/edit.py): the request's seed
    changes what the real model samples. Three seeds at temperature 0.6 give more than one answer."""
    answers = set()
    for seed in (1, 2, 3):
        request = GenerationRequest(text=CODE, max_tokens=24, temperature=0.6, seed=seed)
        answers.add(backend.submit(request, lambda _piece: None, CancelToken()).result(timeout=120).text)
    assert len(answers) > 1, answers


# -- the same prompt evaluated in other batches -----------------------------------------------
# A prompt whose start was cached is evaluated in other batches than a cold one, and llama.cpp's
# CPU kernels round differently by batch size and by instruction set: the first answer token's
# probabilities then differ by up to 0.06 on these prompts (AVX-512 and AVX2 builds,
# tests/benchmarks/RESULTS.md), enough to flip a near tie in a greedy answer. So the answers are
# compared through their first token's probabilities, not as text.

TOLERANCE = 0.15
"""The most any token's probability may differ between two evaluations of one prompt."""


def first_token_rows(backend, monkeypatch) -> list[np.ndarray]:
    """The logits each later generation of ``backend`` in this test chooses its first token from."""
    engine, rows = backend._engine, []
    prefill = engine.prefill

    def prefill_and_copy(*args, **kwargs) -> None:
        prefill(*args, **kwargs)
        logits = llama_cpp.llama_get_logits_ith(engine.ctx, -1)
        rows.append(np.ctypeslib.as_array(logits, shape=(engine.n_vocab,)).copy())

    monkeypatch.setattr(engine, "prefill", prefill_and_copy)
    return rows


def assert_same_up_to_rounding(row: np.ndarray, cold: np.ndarray) -> None:
    """Every token's probability within TOLERANCE of the cold one, and the same greedy first
    token where the cold one leads by more than rounding could close."""
    p, q = (np.exp(r - r.max()) / np.exp(r - r.max()).sum() for r in (row, cold))
    assert np.max(np.abs(p - q)) <= TOLERANCE, f"probabilities differ by {np.max(np.abs(p - q)):.3f}"
    second, first = np.sort(q)[-2:]
    if first - second > 2 * TOLERANCE:
        assert np.argmax(row) == np.argmax(cold)


def test_a_reused_prefix_gives_the_same_answer_as_a_cold_start(backend, monkeypatch):
    generate(backend, "x = 1\n" * 20)  # fill the cache with something else
    rows = first_token_rows(backend, monkeypatch)
    cold = generate(backend, CODE)
    warm_other = generate(backend, CODE.rsplit("def ", 1)[0] + "class ")  # shares a long prefix
    warm = generate(backend, CODE)
    assert warm_other.cached_tokens > 20
    assert warm.cached_tokens >= cold.prompt_tokens - 2
    assert_same_up_to_rounding(rows[2], rows[0])
    assert warm.text.strip() and cold.text.strip()


def test_token_counts_are_exact_and_remembered(backend, monkeypatch):
    text = CODE * 3
    exact = len(backend._llm.tokenize(text.encode(), add_bos=False, special=False))
    assert backend.count_tokens(text) == exact
    calls = []
    real = backend._llm.tokenize
    monkeypatch.setattr(backend._llm, "tokenize", lambda *a, **k: calls.append(a) or real(*a, **k))
    assert backend.count_tokens(text) == exact and calls == []  # the same text again: not tokenized again
    assert backend.count_tokens(text + "x") > 0 and len(calls) == 1


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


# -- the KV cache across prompts that part early, and across restarts ----------------------------

SHARED = "".join(f"def helper_{i}(value):\n    return value * {i} + {i * 7}\n\n" for i in range(40))
"""About 900 tokens that every prompt below starts with (a repository map, say)."""


def question(n: int) -> str:
    return "".join(f"item_{n}_{i} = helper_{i % 40}({n} + {i})\n" for i in range(60)) + "def answer():\n"


@pytest.fixture()
def windowed(tmp_path, monkeypatch):
    """The 270M model with sliding-window layers that keep only their window (512 tokens)."""
    monkeypatch.setattr("lsp_server.model.llama_backend.state_dir", lambda: tmp_path)

    def make(**settings):
        backend = LlamaCppBackend(ModelSettings(n_ctx=4096, temperature=0.0, swa_full=False, **settings))
        backend.load()
        return backend

    return make


def state(engine, flags: int = 0) -> bytes:
    """What the KV cache holds for the sequence (all layers, or the sliding-window ones), as
    llama.cpp writes it to a state file: positions and K and V of each cell."""
    size = llama_cpp.llama_state_seq_get_size_ext(engine.ctx, SEQ, flags)
    data = (ctypes.c_uint8 * size)()
    assert llama_cpp.llama_state_seq_get_data_ext(engine.ctx, data, size, SEQ, flags) == size
    return bytes(data)


def cold_prefix_state(backend, text: str, n: int, flags: int = 0) -> bytes:
    """The cache after a cold evaluation of the first ``n`` tokens of ``text`` in one batch, as
    the prompt that took the checkpoint evaluated them (the same batches give the same bits)."""
    backend._engine.forget()
    backend._engine._decode(backend.prompt_tokens(GenerationRequest(text=text))[:n])
    return state(backend._engine, flags)


def restored_windows(engine, monkeypatch) -> list[tuple[int, bytes]]:
    """Each later checkpoint restore of ``engine``: the tokens it gave back and the window then."""
    restored = []
    restore = engine._restore_checkpoint

    def restore_and_copy(keep: int) -> int:
        restored.append((restore(keep), state(engine, SWA_ONLY)))
        return restored[-1][0]

    monkeypatch.setattr(engine, "_restore_checkpoint", restore_and_copy)
    return restored


def test_a_checkpoint_where_prompts_part_saves_the_shared_prefix(windowed, monkeypatch):
    backend = windowed()
    engine = backend._engine
    shared = backend.count_tokens(SHARED)
    try:
        generate(backend, SHARED + question(1))
        second = generate(backend, SHARED + question(2))  # parts ~900 tokens before its end
        restored = restored_windows(engine, monkeypatch)
        rows = first_token_rows(backend, monkeypatch)
        third = generate(backend, SHARED + question(3))
        engine.forget()
        cold = generate(backend, SHARED + question(3))
        window = cold_prefix_state(backend, SHARED + question(3), third.cached_tokens, SWA_ONLY)
    finally:
        backend.close()
    assert second.cached_tokens == 0  # the window before the parting point was gone, no checkpoint yet
    assert third.cached_tokens >= shared - 2  # restored from the checkpoint taken by the second
    assert restored[0] == (third.cached_tokens, window), "the window restored is bit for bit a cold one"
    assert_same_up_to_rounding(rows[0], rows[1])
    assert third.text.strip() and cold.text.strip()


def test_a_checkpoint_where_the_shared_part_ends_serves_the_next_question(windowed, monkeypatch):
    """A request that says how much of it other prompts share (explain's file-ranked context) gets
    a checkpoint there on its first prefill: the second question reuses it (without: 0, above)."""
    monkeypatch.setattr("lsp_server.model.llama_backend.SHARED_CHECK_FROM", 0)  # these prompts are short
    backend = windowed(keep_kv_state=False)
    shared = backend.count_tokens(SHARED)
    try:
        first = generate(backend, SHARED + question(1), shared_chars=len(SHARED))
        second = generate(backend, SHARED + question(2), shared_chars=len(SHARED))
        tokenized = backend._shared_tokens.cache_info()
    finally:
        backend.close()
    assert (tokenized.misses, tokenized.hits) == (1, 1)  # the shared part is tokenized once, not per question
    assert first.cached_tokens == 0
    assert shared - 2 <= second.cached_tokens <= shared + 1
    assert second.text.strip()


def test_a_restart_restores_the_shared_part_whatever_was_asked_last(windowed, monkeypatch):
    """The state kept for a restart ends where the shared part ends (not after the last question,
    asked twice): the next question about another function of the file reuses it."""
    monkeypatch.setattr("lsp_server.model.llama_backend.SHARED_CHECK_FROM", 0)
    backend = windowed()
    shared = backend.count_tokens(SHARED)
    try:
        generate(backend, SHARED + question(1), shared_chars=len(SHARED))
        generate(backend, SHARED + question(1), shared_chars=len(SHARED))  # the same again
    finally:
        backend.close()
    again = windowed()
    try:
        restored = len(again._engine.tokens)
        other = generate(again, SHARED + question(2), shared_chars=len(SHARED))
    finally:
        again.close()
    assert shared - 2 <= restored <= shared + 1
    assert other.cached_tokens == restored


def warm(backend, text: str, shared_chars: int):
    request = GenerationRequest(text=text, max_tokens=16, temperature=0.0, shared_chars=shared_chars)
    return backend.submit(request, lambda _t: None, CancelToken(), RunOptions(shared_only=True)).result(timeout=120)


def test_a_warm_up_prefills_the_shared_part_and_after_a_restart_finds_it_restored(windowed):
    """RunOptions.shared_only (features/prefill.py's background prefill): the shared part only, no
    answer; the question then reuses it, and after a restart the warm-up has nothing left to do."""
    backend = windowed()
    shared = backend.count_tokens(SHARED)
    try:
        first = warm(backend, SHARED + question(1), len(SHARED))
        asked = generate(backend, SHARED + question(1), shared_chars=len(SHARED))
    finally:
        backend.close()
    again = windowed()
    try:
        second = warm(again, SHARED + question(2), len(SHARED))
        other = generate(again, SHARED + question(2), shared_chars=len(SHARED))
    finally:
        again.close()
    assert shared - 2 <= first.prompt_tokens <= shared + 1 and first.cached_tokens == 0 and first.text == ""
    assert asked.cached_tokens == first.prompt_tokens
    assert second.cached_tokens == second.prompt_tokens == first.prompt_tokens  # restored whole
    assert other.cached_tokens == first.prompt_tokens


def test_a_checkpoint_of_another_text_is_not_restored(windowed, monkeypatch):
    # A checkpoint of SHARED where the questions part; then OTHER (SHARED with its third
    # function changed) parts from it near the start and gets a checkpoint there; OTHER's next
    # question parts where the questions part, at the position of SHARED's checkpoint, whose
    # window is SHARED's text, not OTHER's.
    other = SHARED.replace("value * 2 + 14", "value * 20 + 14")
    backend = windowed(keep_kv_state=False)
    shared = backend.count_tokens(SHARED)
    try:
        generate(backend, SHARED + question(1))
        generate(backend, SHARED + question(2))
        generate(backend, other + question(2))
        restored = restored_windows(backend._engine, monkeypatch)
        fourth = generate(backend, other + question(3))
        window = cold_prefix_state(backend, other + question(3), fourth.cached_tokens, SWA_ONLY)
    finally:
        backend.close()
    assert restored[0] == (fourth.cached_tokens, window), "the window restored is the prompt's own"
    assert 0 < fourth.cached_tokens < shared - 2  # from OTHER's own checkpoint, near the start


def test_prompt_lookup_gives_the_same_answer(windowed):
    # A text the model continues with no near ties: batched and one-by-one evaluation round
    # differently, so only a confident continuation is the same to the last token either way.
    backend = windowed(keep_kv_state=False)
    text = "".join(f"total_{i} = price_{i} * quantity_{i}\n" for i in range(60)) + "total_60 ="
    try:
        plain = generate(backend, text, max_tokens=64)
        drafted = generate(backend, text, max_tokens=64, speculative=True)
    finally:
        backend.close()
    assert plain.text.startswith(" price_60 * quantity_60\ntotal_61")
    assert drafted.text == plain.text and drafted.completion_tokens == plain.completion_tokens


def test_the_stable_prefix_survives_a_restart(windowed, tmp_path, monkeypatch):
    first = windowed()
    generate(first, SHARED + question(1))
    generate(first, SHARED + question(2))
    first.close()  # saves the shared prefix
    assert list(tmp_path.glob("*.kvstate"))
    second = windowed()
    try:
        restored = second.load().extra["restored_tokens"]
        loaded = state(second._engine)
        rows = first_token_rows(second, monkeypatch)
        warm = generate(second, SHARED + question(3))
        second._engine.forget()
        cold = generate(second, SHARED + question(3))
        prefix = cold_prefix_state(second, SHARED + question(3), restored)
    finally:
        second.close()
    assert restored > 800 and warm.cached_tokens >= restored - 1
    assert loaded == prefix, "the cache after a restart is bit for bit a cold evaluation of the prefix"
    assert_same_up_to_rounding(rows[0], rows[1])
    assert warm.text.strip() and cold.text.strip()


def test_a_state_file_that_does_not_fit_is_dropped(windowed, tmp_path):
    first = windowed()
    generate(first, SHARED + question(1))
    path = first._state_path()
    first.close()
    path.write_bytes(b"not a llama.cpp state file")
    second = windowed()
    try:
        assert second.load().extra["restored_tokens"] == 0
        assert generate(second, SHARED + question(2)).completion_tokens > 0
    finally:
        second.close()
    assert not path.exists() or path.read_bytes() != b"not a llama.cpp state file"


def test_the_numpy_sampler_picks_what_llama_cpps_chain_picks(backend):
    # Greedy with the repeat penalty: top-k, penalty, argmax in both; same tokens expected on
    # the real model (the unit tests compare the chains on random logits). Both cold: the same
    # batches give the same logits (other batches round differently).
    backend._engine.forget()
    fast = generate(backend, CODE, max_tokens=32)
    native = LlamaCppBackend(ModelSettings(n_ctx=1024, temperature=0.0, sampler="llama", keep_kv_state=False))
    try:
        same = generate(native, CODE, max_tokens=32)
    finally:
        native.close()
    assert fast.text == same.text and fast.text.strip()


def test_top_k_found_in_the_graph_picks_what_numpy_picks(backend):
    # gpu-top-k on this CPU build: llama.cpp's top-k runs in the CPU graph, only 40 logits per
    # output come back; greedy with the penalty must pick the same tokens as the whole row.
    # Each CODE generation cold: the same batches give the same logits.
    backend._engine.forget()
    plain = generate(backend, CODE, max_tokens=32)
    top_k = LlamaCppBackend(ModelSettings(n_ctx=1024, temperature=0.0, sampler="gpu-top-k", keep_kv_state=False))
    try:
        same = generate(top_k, CODE, max_tokens=32)
        # prompt lookup checks drafts in batches of several outputs of one sequence, which a
        # context allows only without a sampler in the graph: it is taken out for them, and put
        # back for the next plain generation
        text = "".join(f"total_{i} = price_{i} * quantity_{i}\n" for i in range(60)) + "total_60 ="
        one_by_one = generate(top_k, text, max_tokens=48)
        drafted = generate(top_k, text, max_tokens=48, speculative=True)
        assert top_k._engine._top_k_chain is None
        top_k._engine.forget()
        again = generate(top_k, CODE, max_tokens=32)
        assert top_k._engine._top_k_chain is not None and again.text == plain.text
    finally:
        top_k.close()
    assert same.text == plain.text and plain.text.strip()
    assert one_by_one.text.startswith(" price_60 * quantity_60\ntotal_61")
    assert drafted.text == one_by_one.text
