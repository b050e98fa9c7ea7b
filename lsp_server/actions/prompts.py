"""Pieces every action's prompt shares: the packed context as chat Markdown or completion text."""

from __future__ import annotations

import dataclasses
import re

from lsp_server.context.pack import PackedContext

CODE_BLOCK = re.compile(r"```(?:python|py)?[ \t]*\n(.*?)(?:```|$)", re.S)


def context_markdown(packed: PackedContext) -> str:
    """Related code for a chat prompt, stable first."""
    blocks = "".join(f"## {item.title}\n```python\n{item.text.rstrip()}\n```\n\n" for item in packed.items)
    return f"Related code:\n\n{blocks}" if blocks else ""


def context_completion(packed: PackedContext) -> str:
    """Related code for a few-shot completion prompt (base models), stable first."""
    blocks = "".join(f"# {item.title}\n{item.text.rstrip()}\n\n" for item in packed.items)
    return f"### Context\n{blocks}" if blocks else ""


def shared_chars(packed: PackedContext, render) -> int:
    """How many leading characters of ``render(packed)`` (context_markdown or context_completion)
    every target of the file shares: its file-ranked items (pack.py's ``stable_items``)."""
    if not packed.stable_items:
        return 0
    return len(render(dataclasses.replace(packed, items=packed.items[: packed.stable_items])))


def shared_in_chat(packed: PackedContext) -> int:
    """``shared_chars`` of a chat question that starts with ``context_markdown(packed)``."""
    return shared_chars(packed, context_markdown)


def shared_in_completion(header: str, packed: PackedContext) -> int:
    """``shared_chars`` of a completion prompt that starts with ``header`` and ``context_completion(packed)``."""
    shared = shared_chars(packed, context_completion)
    return len(header) + shared if shared else 0


def where(packed: PackedContext) -> str:
    target = packed.target
    return f"{target.path.name}, lines {target.start_line + 1}-{target.end_line + 1}"


def extract_code(answer: str) -> str:
    """The first fenced Python block of an answer, else the answer itself (completion prompts)."""
    match = CODE_BLOCK.search(answer)
    code = match.group(1) if match else answer
    return code.strip("\n") + "\n"
