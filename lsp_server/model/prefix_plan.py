"""Pure helpers of the KV-cache logic: common prefixes and prompt-lookup drafts (unit-tested)."""

from __future__ import annotations

from typing import Sequence


def common_prefix(cached: Sequence[int], prompt: Sequence[int]) -> int:
    """How many leading tokens two sequences share."""
    n = 0
    for old, new in zip(cached, prompt):
        if old != new:
            break
        n += 1
    return n


class PromptLookup:
    """Guesses the next tokens by finding the text's last ``n`` tokens earlier in it and copying
    what followed there (prompt-lookup decoding), in constant time per token.

    The most recent earlier match wins (llama-cpp-python's LlamaPromptLookupDecoding scans the
    whole text and takes the first): an edit copies the code it is rewriting, which sits late in
    the prompt, after the repository map and related code that share the same short n-grams.
    """

    def __init__(self, tokens: Sequence[int], max_ngram: int = 3, min_ngram: int = 2) -> None:
        self.sizes = range(max_ngram, min_ngram - 1, -1)
        self.tokens: list[int] = []
        self.seen: dict[tuple[int, ...], int] = {}
        """n-gram -> where the latest of its occurrences that has a following token starts."""
        for token in tokens:
            self.append(token)

    def append(self, token: int) -> None:
        tokens = self.tokens
        end = len(tokens)  # n-grams ending here now have a follower: ``token``
        for n in self.sizes:
            if end >= n:
                self.seen[tuple(tokens[end - n : end])] = end - n
        tokens.append(token)

    def draft(self, max_tokens: int) -> list[int]:
        if max_tokens <= 0:
            return []
        tokens = self.tokens
        for n in self.sizes:
            start = self.seen.get(tuple(tokens[len(tokens) - n :])) if len(tokens) >= n else None
            if start is not None:
                return tokens[start + n : start + n + max_tokens]
        return []


class DraftSize:
    """How many tokens to guess next: doubles (up to ``most``) while guesses are accepted whole,
    and drops to just past what was accepted when one is not.

    A rejected tail is work thrown away: on the H100 a 17-token check of a tiny model costs more
    than a plain step, and fixed 16-token guesses made 3 of 8 Refactor answers slower than plain
    decoding (tests/benchmarks/RESULTS.md). A 2-token check costs about what one step does.
    """

    def __init__(self, most: int, least: int = 2) -> None:
        self.most, self.least = most, min(least, most)
        self.size = most

    def update(self, proposed: int, accepted: int) -> None:
        if accepted >= proposed:
            self.size = min(self.most, max(self.size, proposed) * 2)
        else:
            self.size = max(self.least, accepted + 1)
