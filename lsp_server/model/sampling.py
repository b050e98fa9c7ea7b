"""Choosing the next token from the logits: numpy finds a few candidates in the whole row, plain
Python runs the chain on them.

The same chain as llama.cpp's samplers in the same order (top-k, repeat penalty, top-p, min-p,
temperature, draw), but llama.cpp's ``llama_sampler_sample`` first copies every logit of the
vocabulary into a candidate array and sorts for the top k: for Gemma's 262,144 tokens that was
about 1 ms per token on the development CPU, the largest fixed cost of a decode step left
(tests/benchmarks/RESULTS.md, issue 9). Here the top k are found among the logits within
``PREFILTER`` of the largest: one comparison over the vocabulary, then a partition of a few.
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass

import numpy as np

PREFILTER = 20.0
"""How far below the largest logit a token may be and still be a candidate: e^-20 (2e-9) of the
best one's probability. The top k are taken among these; when fewer than k are that close the
rest would hold under 1e-7 of the probability together, which changes no choice."""


@dataclass(frozen=True)
class Sampling:
    temperature: float
    """0 or less: greedy."""
    top_k: int = 40
    top_p: float = 0.95
    min_p: float = 0.05
    repeat_penalty: float = 1.1
    penalty_last_n: int = 64
    seed: int = 0xC0FFEE


def near_top_k(logits: np.ndarray, k: int, penalty: float = 1.0) -> np.ndarray:
    """Indices of the ``k`` largest logits among those within PREFILTER of the largest (in no
    particular order). With a repeat penalty the window also reaches down to what the largest
    becomes once penalized, so greedy decoding sees every token that could win."""
    best = float(logits.max())
    if not np.isfinite(best):  # NaN or inf logits (a broken model): rank what can be ranked
        return np.argsort(-np.nan_to_num(logits, nan=-np.inf), kind="stable")[:k]
    floor = best - PREFILTER
    if penalty != 1.0:
        floor = min(floor, best / penalty if best > 0 else best * penalty)
    near = np.flatnonzero(logits >= floor)
    if near.size <= k:
        return near
    return near[np.argpartition(logits[near], -k)[-k:]]


def penalize(ids: list[int], values: list[float], recent, penalty: float) -> list[float]:
    """llama.cpp's repeat penalty: a recent token's positive logit divided by it, a negative
    one multiplied."""
    if penalty == 1.0 or not recent:
        return values
    seen = set(recent)
    return [(v / penalty if v > 0 else v * penalty) if t in seen else v for t, v in zip(ids, values)]


def finite(ids: list[int], values: list[float]) -> tuple[list[int], list[float]]:
    """Logits of a broken model: +inf tokens take all the probability, NaN and -inf none; when
    nothing is left, the first token stays (a step must always give a token)."""
    if all(math.isfinite(v) for v in values):
        return ids, values
    top = [t for t, v in zip(ids, values) if v == math.inf]
    if top:
        return top, [0.0] * len(top)
    kept = [(t, v) for t, v in zip(ids, values) if math.isfinite(v)]
    return ([t for t, _ in kept], [v for _, v in kept]) if kept else (ids[:1], [0.0])


def candidates(logits: np.ndarray, recent, sampling: Sampling) -> tuple[list[int], list[float]]:
    """The tokens a draw chooses among and their logits after penalty and temperature, best
    first: top-k, penalty, top-p (smallest prefix holding ``top_p`` of the probability), min-p
    (probability at least ``min_p`` of the best one's), in llama.cpp's order."""
    ids = near_top_k(logits, sampling.top_k, sampling.repeat_penalty)
    return candidates_among(ids.tolist(), logits[ids].tolist(), recent, sampling)


def candidates_among(ids: list[int], values: list[float], recent, sampling: Sampling) -> tuple[list[int], list[float]]:
    """``candidates`` after the top-k step: ``ids`` are the top k and ``values`` their logits.
    Plain Python: on 40 numbers each numpy call costs more than the arithmetic."""
    values = penalize(ids, values, recent, sampling.repeat_penalty)
    ids, values = finite(ids, values)
    order = sorted(range(len(values)), key=lambda i: -values[i])  # stable, best first
    ids, values = [ids[i] for i in order], [values[i] for i in order]
    if sampling.top_p < 1.0:
        weights = _weights(values)
        target, running, keep = sampling.top_p * sum(weights), 0.0, len(values)
        for i, weight in enumerate(weights):
            running += weight
            if running >= target:
                keep = i + 1
                break
        ids, values = ids[:keep], values[:keep]
    if sampling.min_p > 0.0:
        floor = values[0] + math.log(sampling.min_p)
        kept = [i for i, v in enumerate(values) if v >= floor]
        ids, values = [ids[i] for i in kept], [values[i] for i in kept]
    return ids, [v / sampling.temperature for v in values]


def _weights(values: list[float]) -> list[float]:
    """Unnormalised softmax of ``values`` (best first: the first weight is 1)."""
    return [math.exp(v - values[0]) for v in values]


def draw(ids: list[int], values: list[float], rng: random.Random) -> int:
    """One token, with probability softmax(values); ``values`` best first."""
    weights = _weights(values)
    point, running = rng.random() * sum(weights), 0.0
    for token, weight in zip(ids, weights):
        running += weight
        if point < running:
            return token
    return ids[-1]


class Sampler:
    """The next token from a row of logits; remembers what it chose (for the repeat penalty)."""

    def __init__(self, sampling: Sampling, n_vocab: int) -> None:
        self.sampling = sampling
        self.n_vocab = n_vocab
        self.recent: deque[int] = deque(maxlen=max(1, sampling.penalty_last_n))
        self.rng = random.Random(sampling.seed)
        self.greedy = sampling.temperature <= 0

    def choose(self, logits: np.ndarray) -> int:
        """The next token from a whole row of logits."""
        s = self.sampling
        if self.greedy and (s.repeat_penalty == 1.0 or not self.recent):
            return self._chosen(int(logits.argmax()))
        ids = near_top_k(logits, s.top_k, s.repeat_penalty)
        return self.choose_among(ids.tolist(), logits[ids].tolist())

    def choose_among(self, ids: list[int], values: list[float]) -> int:
        """The next token from the top k already found (by llama.cpp, on the GPU): ``ids`` and
        their logits ``values``, in any order."""
        s = self.sampling
        if self.greedy:
            values = penalize(ids, values, self.recent, s.repeat_penalty)
            return self._chosen(ids[max(range(len(values)), key=values.__getitem__)])
        ids, values = candidates_among(ids, values, self.recent, s)
        return self._chosen(ids[0] if len(ids) == 1 else draw(ids, values, self.rng))

    def _chosen(self, token: int) -> int:
        if self.sampling.penalty_last_n > 0:
            self.recent.append(token)
        return token
