"""A request as the tokens the model is prompted with, and where the part other requests share ends."""

from __future__ import annotations

from collections.abc import Callable

from lsp_server.model.backend import GenerationRequest, Message
from lsp_server.model.chat import fallback_turns, render_template
from lsp_server.model.prefix_plan import common_prefix


def request_tokens(llm, request: GenerationRequest) -> list[int]:
    """A request as the tokens ``llm`` (a ``llama_cpp.Llama``, a vocab-only one will do) is
    prompted with: the GGUF's chat template, the family's turns, or the completion text. Used
    by the backend and by ``gemma-quantize tune``, whose training prompts must be these."""
    if request.text is not None:
        text = request.text + request.answer_prefix
        return llm.tokenize(text.encode("utf-8", "replace"), add_bos=True, special=False)
    template = llm.metadata.get("tokenizer.chat_template")
    if template:
        bos = llm.detokenize([llm.token_bos()], special=True).decode("utf-8", "replace")
        eos = llm.detokenize([llm.token_eos()], special=True).decode("utf-8", "replace")
        text = render_template(template, request.messages, bos, eos, request.thinking) + request.answer_prefix
        return llm.tokenize(text.encode("utf-8"), add_bos=not text.startswith(bos), special=True)
    architecture = llm.metadata.get("general.architecture", "")
    text = fallback_turns(architecture, request.messages, request.thinking) + request.answer_prefix
    return llm.tokenize(text.encode("utf-8"), add_bos=True, special=True)


def shared_until(request: GenerationRequest, tokens: list[int], tokenize: Callable[[GenerationRequest], list[int]]) -> int:
    """How many leading ``tokens`` (``request``'s) are its ``shared_chars``: the prompt rendered
    with only that much of its text (or last message), by ``tokenize`` (``request_tokens`` with a
    model; every question about a file renders the same one), compared token by token."""
    if request.shared_chars <= 0:
        return 0
    # only what rendering reads: the same shared part is then the same key, whatever the sampling
    if request.text is not None:
        shorter = GenerationRequest(text=request.text[: request.shared_chars], thinking=request.thinking)
    elif request.messages:
        last = request.messages[-1]
        messages = (*request.messages[:-1], Message(last.role, last.content[: request.shared_chars]))
        shorter = GenerationRequest(messages=messages, thinking=request.thinking)
    else:
        return 0
    return common_prefix(tokenize(shorter), tokens)
