"""Chat formatting: the GGUF's own template when it has one, Gemma's turn format otherwise.

llama-cpp-python falls back to "llama-2" for a GGUF without a template, which Gemma models
answer with nothing; so the fallback here is Gemma's own turns.
"""

from __future__ import annotations

from typing import Iterable

from lsp_server.model.backend import Message

END_OF_TURN = "<end_of_turn>"


def gemma_turns(messages: Iterable[Message]) -> str:
    """Gemma's turn format without the BOS token (the tokenizer adds it).

    Gemma has no system role: a system message is put at the top of the first user turn.
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


def render_template(template: str, messages: Iterable[Message], bos_token: str, eos_token: str) -> str:
    """Render a GGUF chat template (Jinja, as Hugging Face defines it) with a generation prompt."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    formatter = Jinja2ChatFormatter(template=template, eos_token=eos_token, bos_token=bos_token)
    return formatter(messages=[{"role": m.role, "content": m.content} for m in messages]).prompt
