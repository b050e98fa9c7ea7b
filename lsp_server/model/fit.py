"""The rule for a prompt that does not fit the context window (never llama.cpp's error string)."""

from __future__ import annotations

from typing import Sequence


def answer_budget(n_ctx: int, max_tokens: int) -> int:
    """Tokens kept free for the answer: as asked, but never more than half the window."""
    return max(1, min(max_tokens, n_ctx // 2))


def fit_tokens(tokens: Sequence[int], budget: int, keep_head: int) -> tuple[list[int], int]:
    """Cut the middle of ``tokens`` so that at most ``budget`` remain.

    The head (instructions, few-shot examples: at most a quarter of the budget) and the tail (the
    code asked about and the question) stay, because they matter most; the middle holds the
    least related context. Returns the tokens and how many were left out.
    """
    if len(tokens) <= budget:
        return list(tokens), 0
    head = min(keep_head, budget // 4)
    tail = budget - head
    return list(tokens[:head]) + list(tokens[len(tokens) - tail :]), len(tokens) - budget
