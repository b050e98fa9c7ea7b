"""Pack context into a token budget, most stable part first.

Order (stable to volatile): related definitions from other files, then the current file, then the
target. Whatever does not fit is cut by one rule: related definitions are dropped from the last
(least related) backwards, then the current file shrinks to a window around the target, then the
target keeps its head and tail. The manifest says what went in, why, and at what size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from lsp_server.context.imports import ImportedDefinition
from lsp_server.context.target import Target

CountTokens = Callable[[str], int]


def estimate_tokens(text: str) -> int:
    """A fast upper-side estimate for code (about 3 characters a token); exact counts come later."""
    return len(text) // 3 + 1


@dataclass(frozen=True)
class ContextItem:
    title: str
    text: str
    reason: str


@dataclass
class PackedContext:
    target: Target
    items: list[ContextItem]
    """Stable first; the target is not among them."""
    manifest: list[dict] = field(default_factory=list)


def pack_context(
    target: Target,
    file_text: str,
    related: list[ImportedDefinition],
    budget: int,
    count: CountTokens = estimate_tokens,
    relative_to=None,
) -> PackedContext:
    def show(path) -> str:
        try:
            return str(path.relative_to(relative_to)) if relative_to else str(path)
        except ValueError:
            return str(path)

    target_text = _cut_middle(target.text, budget, count)
    remaining = budget - count(target_text)
    file_item = ContextItem(f"{show(target.path)} (current file)", file_text, "the file the target is in")
    file_item = _fit_file(file_item, target, max(remaining // 2, 0), count) if count(file_text) > remaining else file_item
    remaining -= count(file_item.text) if file_item.text else 0
    items, manifest = [], []
    for definition in related:
        item = ContextItem(f"{show(definition.path)}: {definition.qualname}", definition.text, "imported by the current file")
        size = count(item.text)
        included = size <= remaining
        manifest.append({"title": item.title, "reason": item.reason, "tokens": size, "included": included})
        if included:
            items.append(item)
            remaining -= size
    if file_item.text:
        items.append(file_item)
        manifest.append({"title": file_item.title, "reason": file_item.reason, "tokens": count(file_item.text), "included": True})
    manifest.append({"title": f"target: {target.name}", "reason": "what was asked about", "tokens": count(target_text), "included": True})
    final_target = target if target_text == target.text else _replace_text(target, target_text)
    return PackedContext(final_target, items, manifest)


def _fit_file(item: ContextItem, target: Target, budget: int, count: CountTokens) -> ContextItem:
    """Keep the lines around the target, growing the window while it fits."""
    lines = item.text.splitlines(keepends=True)
    low, high = target.start_line, target.end_line + 1
    best = ""
    step = 8
    while True:
        window = "".join(lines[low:high])
        if count(window) > budget:
            break
        best = window
        if low == 0 and high >= len(lines):
            break
        low, high = max(0, low - step), min(len(lines), high + step)
    title = item.title.replace("(current file)", "(current file, around the target)")
    return ContextItem(title, best, item.reason)


def _cut_middle(text: str, budget: int, count: CountTokens) -> str:
    if count(text) <= budget:
        return text
    lines = text.splitlines(keepends=True)
    keep = len(lines)
    while keep > 2:
        keep = keep * 3 // 4
        head, tail = lines[: keep // 2], lines[len(lines) - keep // 2 :]
        candidate = "".join(head) + f"    # ... {len(lines) - len(head) - len(tail)} lines left out ...\n" + "".join(tail)
        if count(candidate) <= budget:
            return candidate
    return text[: budget * 3]


def _replace_text(target: Target, text: str) -> Target:
    from dataclasses import replace

    return replace(target, text=text)
