"""Chat formatting: the GGUF's own template when it has one, the family's turn format otherwise.

llama-cpp-python falls back to "llama-2" for a GGUF without a template, which Gemma models
answer with nothing; so the fallback here is Gemma's own turns: Gemma 3's ``<start_of_turn>``
turns, or Gemma 4's ``<|turn>`` turns (with a system role and a thinking channel) for a
``gemma4`` GGUF. The Gemma 4 turns render what its chat template renders for plain text
messages (tests/unit/model/test_chat.py compares them with the real template).
"""

from __future__ import annotations

from typing import Callable, Iterable

from lsp_server.model.backend import Message
from lsp_server.model.thinking import THOUGHT_CLOSE, THOUGHT_OPEN, strip_thoughts

END_OF_TURN = "<end_of_turn>"

GEMMA4_TURN_OPEN = "<|turn>"
GEMMA4_TURN_CLOSE = "<turn|>"
GEMMA4_THINK = "<|think|>"
GEMMA4_EMPTY_THOUGHT = f"{THOUGHT_OPEN}thought\n{THOUGHT_CLOSE}"
"""Pre-filled after the model's turn header when thinking is off: the model skips its thought."""


def gemma_turns(messages: Iterable[Message]) -> str:
    """Gemma 3's turn format without the BOS token (the tokenizer adds it).

    Gemma 3 has no system role: a system message is put at the top of the first user turn.
    """
    turns: list[str] = []
    system = ""
    for message in messages:
        if message.role == "system":
            system += message.content.strip() + "\n\n"
            continue
        role = "model" if message.role == "assistant" else "user"
        content = message.content
        if role == "user" and system:
            content, system = system + content, ""
        turns.append(f"<start_of_turn>{role}\n{content.strip()}{END_OF_TURN}\n")
    return "".join(turns) + "<start_of_turn>model\n"


def gemma4_turns(messages: Iterable[Message], thinking: bool = False) -> str:
    """Gemma 4's turn format without the BOS token, as its template renders text messages.

    A leading system message (or thinking, whose ``<|think|>`` goes at the top of it) opens a
    system turn; earlier answers lose their thought (the template strips it too); with thinking
    off, the model's turn starts with an empty thought channel.
    """
    messages = list(messages)
    out: list[str] = []
    if thinking or (messages and messages[0].role == "system"):
        system = messages.pop(0).content.strip() if messages and messages[0].role == "system" else ""
        out.append(f"{GEMMA4_TURN_OPEN}system\n" + (f"{GEMMA4_THINK}\n" if thinking else "") + f"{system}{GEMMA4_TURN_CLOSE}\n")
    previous = None
    for message in messages:
        role = "model" if message.role == "assistant" else message.role
        # The template continues the model's turn (no new header) after another assistant message.
        if not (role == "model" and previous == "assistant"):
            out.append(f"{GEMMA4_TURN_OPEN}{role}\n")
        content = strip_thoughts(message.content).strip() if role == "model" else message.content.strip()
        out.append(f"{content}{GEMMA4_TURN_CLOSE}\n")
        previous = message.role
    out.append(f"{GEMMA4_TURN_OPEN}model\n")
    if not thinking:
        out.append(GEMMA4_EMPTY_THOUGHT)
    return "".join(out)


def fallback_turns(architecture: str, messages: Iterable[Message], thinking: bool = False) -> str:
    """The family's turns for a GGUF without a chat template (thinking only where it exists)."""
    if architecture == "gemma4":
        return gemma4_turns(messages, thinking)
    return gemma_turns(messages)


def channel_token_ids(tokenize: Callable[[str], list[int]]) -> frozenset[int]:
    """The ids of the thought channel's control tokens, where the vocabulary has them as single
    tokens. They detokenize to nothing unless asked, yet their text is what tells the thought
    from the answer (thinking.py), so the backend renders these two."""
    ids = (tokenize(marker) for marker in (THOUGHT_OPEN, THOUGHT_CLOSE))
    return frozenset(tokens[0] for tokens in ids if len(tokens) == 1)


def render_template(template: str, messages: Iterable[Message], bos_token: str, eos_token: str, thinking: bool = False) -> str:
    """Render a GGUF chat template (Jinja, as Hugging Face defines it) with a generation prompt.

    ``enable_thinking`` is always passed: Gemma 4's template pre-fills an empty thought unless it
    is true, and templates without the switch ignore it.
    """
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    formatter = Jinja2ChatFormatter(template=template, eos_token=eos_token, bos_token=bos_token)
    return formatter(messages=[{"role": m.role, "content": m.content} for m in messages], enable_thinking=thinking).prompt
