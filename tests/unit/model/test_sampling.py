"""The numpy sampler against a plain implementation of llama.cpp's chain over the whole
vocabulary (top-k, repeat penalty, top-p, min-p, temperature), on random and peaked logits."""

from __future__ import annotations

import numpy as np
import pytest

from lsp_server.model.sampling import Sampler, Sampling, candidates, near_top_k


def reference(logits: np.ndarray, recent: list[int], s: Sampling) -> tuple[list[int], np.ndarray]:
    order = np.argsort(-logits, kind="stable")[: s.top_k]
    values = logits[order].astype(np.float64)
    for i, token in enumerate(order):
        if token in set(recent) and s.repeat_penalty != 1.0:
            values[i] = values[i] / s.repeat_penalty if values[i] > 0 else values[i] * s.repeat_penalty
    resort = np.argsort(-values, kind="stable")
    order, values = order[resort], values[resort]
    probs = np.exp(values - values.max())
    probs /= probs.sum()
    keep = next(i + 1 for i, c in enumerate(np.cumsum(probs)) if c >= s.top_p) if s.top_p < 1 else len(order)
    order, values = order[:keep], values[:keep]
    keep = values >= values[0] + np.log(s.min_p)
    return order[keep].tolist(), values[keep] / s.temperature


def logits_like_a_model(rng: np.random.Generator, vocab: int = 262_144) -> np.ndarray:
    logits = rng.normal(0.0, 2.0, vocab).astype(np.float32)
    peaks = rng.choice(vocab, size=rng.integers(1, 60), replace=False)
    logits[peaks] += rng.uniform(5.0, 25.0, peaks.size).astype(np.float32)
    return logits


@pytest.mark.parametrize("seed", range(25))
def test_candidates_match_the_whole_vocabulary_chain(seed):
    rng = np.random.default_rng(seed)
    logits = logits_like_a_model(rng)
    recent = rng.choice(np.argsort(-logits)[:60], size=10).tolist()
    s = Sampling(temperature=0.7)
    ids, values = candidates(logits, recent, s)
    want_ids, want_values = reference(logits, recent, s)
    assert sorted(ids) == sorted(want_ids)
    assert np.allclose(np.sort(values), np.sort(want_values))


@pytest.mark.parametrize("seed", range(25))
def test_greedy_with_a_repeat_penalty_picks_what_the_chain_picks(seed):
    rng = np.random.default_rng(seed)
    logits = logits_like_a_model(rng)
    top = np.argsort(-logits)[:5].tolist()
    sampler = Sampler(Sampling(temperature=0.0), logits.size)
    sampler.recent.extend(top[:2])  # the two best were just used: the penalty may reorder
    want = reference(logits, top[:2], Sampling(temperature=1.0, top_p=1.0, min_p=1e-12))[0][0]
    assert sampler.choose(logits) == want


def test_near_top_k_is_the_exact_top_k_when_enough_are_close():
    logits = np.zeros(1000, dtype=np.float32)
    logits[:100] = np.arange(100, dtype=np.float32) / 10  # 100 tokens within 10 of the best
    assert sorted(near_top_k(logits, 40).tolist()) == list(range(60, 100))


def test_a_draw_is_reproducible_with_its_seed_and_stays_among_the_candidates():
    logits = logits_like_a_model(np.random.default_rng(1))
    s = Sampling(temperature=1.0, repeat_penalty=1.0)
    allowed = set(reference(logits, [], s)[0])
    draws = [Sampler(s, logits.size).choose(logits) for _ in range(3)]
    assert len(set(draws)) == 1 and draws[0] in allowed
    many = Sampler(s, logits.size)
    assert {many.choose(logits) for _ in range(50)} <= allowed


@pytest.mark.parametrize("poison", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("temperature", [0.0, 0.7])
def test_logits_with_nan_or_inf_still_give_a_token(poison, temperature):
    # A random-weight Gemma 4 E4B on the H100 produced such logits; the first version raised
    # "argmax of an empty sequence" there.
    logits = logits_like_a_model(np.random.default_rng(3))
    logits[::7] = poison
    sampler = Sampler(Sampling(temperature=temperature), logits.size)
    sampler.recent.extend([1, 2, 3])
    token = sampler.choose(logits)
    assert 0 <= token < logits.size
    all_nan = np.full(1000, np.nan, dtype=np.float32)
    assert 0 <= Sampler(Sampling(temperature=temperature), 1000).choose(all_nan) < 1000


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("temperature", [0.0, 0.7])
def test_the_top_k_found_elsewhere_gives_what_the_whole_row_gives(seed, temperature):
    # gpu-top-k: llama.cpp hands over the top 40 ids and logits in its own order (here
    # shuffled); the chain on them must choose what it chooses on the whole row.
    rng = np.random.default_rng(seed)
    logits = logits_like_a_model(rng)
    top = np.argpartition(logits, -40)[-40:]
    rng.shuffle(top)
    whole, among = Sampler(Sampling(temperature=temperature), logits.size), Sampler(Sampling(temperature=temperature), logits.size)
    for sampler in (whole, among):
        sampler.recent.extend(np.argsort(-logits)[:3].tolist())
    picked_whole = [whole.choose(logits) for _ in range(5)]
    picked_among = [among.choose_among(top.tolist(), logits[top].tolist()) for _ in range(5)]
    assert picked_among == picked_whole
    assert list(among.recent) == list(whole.recent)


def test_draws_follow_the_softmax_of_the_candidates():
    import math
    import random

    from lsp_server.model.sampling import draw

    rng = random.Random(5)
    picks = [draw([7, 9], [1.0, 0.0], rng) for _ in range(4000)]
    share = picks.count(7) / len(picks)
    assert abs(share - math.e / (math.e + 1)) < 0.03  # 0.731
    assert set(picks) == {7, 9}
