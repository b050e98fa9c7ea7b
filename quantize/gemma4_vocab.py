"""Gemma 4's control tokens on a Gemma 3 tokenizer, so a synthetic ``gemma4`` GGUF speaks
Gemma 4's chat format.

The only tokenizer at hand offline is the bundled Gemma 3 270M's. Gemma 4 keeps its vocabulary
but writes its turns and thinking channel with other control tokens: its turn markers take the
places of ``<start_of_turn>``/``<end_of_turn>`` and the rest take unused slots. Control type
matters: llama.cpp then reads each as one token in a prompt, never shows it as text unless
asked, and ends generation at ``<turn|>`` (it knows that one by name).
"""

from __future__ import annotations

import gguf

RENAMED = {"<start_of_turn>": "<|turn>", "<end_of_turn>": "<turn|>"}
ADDED = (
    "<|think|>", "<|channel>", "<channel|>", "<|tool>", "<tool|>", "<|tool_call>", "<tool_call|>",
    "<|tool_response>", "<tool_response|>", '<|"|>', "<|image|>", "<|audio|>", "<|video|>",
)
CONTROL = int(gguf.TokenType.CONTROL)


def has_gemma4_tokens(tokens: list[str]) -> bool:
    return "<|turn>" in tokens


def with_gemma4_tokens(tokens: list[str], token_types: list[int]) -> tuple[list[str], list[int]]:
    """The vocabulary with Gemma 4's control tokens (same size, same ids for everything else)."""
    tokens, token_types = list(tokens), list(token_types)
    for old, new in RENAMED.items():
        index = tokens.index(old)
        tokens[index], token_types[index] = new, CONTROL
    unused = (i for i, token in enumerate(tokens) if token.startswith("<unused"))
    for token in ADDED:
        try:
            index = next(unused)
        except StopIteration:
            raise ValueError("the tokenizer has too few unused tokens to take Gemma 4's control tokens") from None
        tokens[index], token_types[index] = token, CONTROL
    return tokens, token_types
