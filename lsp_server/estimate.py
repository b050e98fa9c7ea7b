"""The one token estimate, for when no tokenizer is at hand: packing before the model is loaded,
and a team server without a tokenize endpoint. Both the context and the model layers use it."""


def estimate_tokens(text: str) -> int:
    """About 3 characters a token for code, on the high side; exact counts come from the model."""
    return len(text) // 3 + 1
