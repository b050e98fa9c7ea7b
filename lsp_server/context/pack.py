"""Pack ranked code into a token budget, most stable part first.

Layout (stable to volatile): the repository map (signatures and docstrings), related definitions,
the current file, then the target; the action adds its system text before and the question
after. Sections are ordered by path and line, not by score, so the same workspace state gives
the same prefix and llama.cpp reuses its KV cache. Code ranked for the target alone differs
between targets, so another target's prompt would part from this one early; in a long window
(``file_ranked_from``) the context therefore starts with code ranked for the whole current file
(map, related code, the file itself: the same for every target in it, ``stable_items``), and the
code ranked for the target follows (tests/benchmarks/RESULTS.md, 100K tokens).

What does not fit is cut by one rule, in this order: the target keeps its head and tail; the
current file shrinks to a window around the target (at most ``file_share`` of the budget);
related definitions go in whole in rank order while they fit (a share is kept for the map);
the rest enter the map as signatures. Sizes are fast estimates; an exact ``count_tokens`` then
checks the whole and drops the lowest-ranked items until it fits. The manifest says what went
in, why, and at what size.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from lsp_server.config import ContextSettings
from lsp_server.context.target import Target
from lsp_server.estimate import estimate_tokens

CountTokens = Callable[[str], int]


@dataclass(frozen=True)
class ContextItem:
    title: str
    text: str
    reason: str
    section: str = "related"
    """"repo map", "related" or "current file" (manifest entries also say "covered", "left out", "target")."""


@dataclass(frozen=True)
class Related:
    """A ranked definition offered to the packer."""

    path: Path
    symbol: str
    kind: str
    start_line: int
    end_line: int
    """0-based, inclusive."""
    text: str
    signature: str
    docstring: str | None
    reason: str


@dataclass
class PackedContext:
    target: Target
    items: list[ContextItem]
    """Stable first; the target is not among them."""
    manifest: list[dict] = field(default_factory=list)
    """Per item: title, section, path, start_line/end_line (1-based, inclusive), symbol, tokens, reason, included."""
    tokens: int = 0
    budget: int = 0
    exact: bool = False
    """Whether ``tokens`` was counted with the model's tokenizer (else estimated)."""
    stable_items: int = 0
    """How many leading items are ranked for the whole current file (the same for every target in
    it, when it fits whole): a prompt prefix other targets of the file share."""


@dataclass
class _Plan:
    whole: list[Related] = field(default_factory=list)
    mapped: list[Related] = field(default_factory=list)
    left_out: list[Related] = field(default_factory=list)
    covered: list[Related] = field(default_factory=list)


def pack_context(
    target: Target,
    file_text: str,
    related: list[Related],
    budget: int,
    count_tokens: CountTokens | None = None,
    settings: ContextSettings | None = None,
    relative_to: Path | None = None,
    file_related: list[Related] | None = None,
) -> PackedContext:
    """``file_related``: code ranked for the whole current file, packed first (in its share of
    the budget), then ``related`` (ranked for the target) in the rest."""
    settings = settings or ContextSettings()
    target_text = _cut_middle(target.text, budget, estimate_tokens)
    remaining = budget - estimate_tokens(target_text)
    file_text, file_title, window = _fit_file(file_text, target, remaining, settings.file_share)
    remaining -= estimate_tokens(file_text) if file_text else 0
    show = _shower(relative_to)
    if file_related is None:
        plans = [_plan(related, target.path, window, remaining, settings.repo_map_share, show)]
    else:
        # its room comes from the budget, not from what the target and its window left: the same
        # for every target of the file, or another target's prompt would part inside it
        whole_file = estimate_tokens(file_text) if file_title == "current file" else 0
        room = min(int((budget - whole_file) * settings.file_ranked_share), remaining)
        first = _plan(file_related, target.path, window, room, settings.repo_map_share, show)
        # what the first part holds whole is not repeated; what it maps may still come in whole
        whole = {(item.path, item.symbol) for item in first.whole + first.covered}
        second = _plan([r for r in related if (r.path, r.symbol) not in whole], target.path, window,
                       remaining - _planned(first, show), settings.repo_map_share, show, first.whole)
        mapped = {(item.path, item.symbol) for item in first.mapped}
        second.mapped = [item for item in second.mapped if (item.path, item.symbol) not in mapped]
        plans = [first, second]
    final_target = target if target_text == target.text else replace(target, text=target_text)
    file_part = (file_title, file_text, window)
    packed = _assemble(final_target, plans, file_part, show, budget)
    return _check_exact(packed, plans, count_tokens, file_part, show) if count_tokens else packed


def _shower(root: Path | None) -> Callable[[Path], str]:
    def show(path: Path) -> str:
        try:
            return str(path.relative_to(root)) if root else str(path)
        except ValueError:
            return str(path)

    return show


def _fit_file(text: str, target: Target, remaining: int, share: float) -> tuple[str, str, tuple[int, int]]:
    """The current file whole when it fits, else the largest window around the target that does."""
    lines = text.splitlines(keepends=True)
    if estimate_tokens(text) <= remaining:
        return text, "current file", (0, max(len(lines) - 1, 0))
    cap = int(max(remaining, 0) * share)
    low, high, best = target.start_line, target.end_line + 1, (target.start_line, target.start_line - 1)
    while estimate_tokens("".join(lines[low:high])) <= cap:
        best = (low, high - 1)
        if low == 0 and high >= len(lines):
            break
        low, high = max(0, low - 8), min(len(lines), high + 8)
    window = "".join(lines[best[0] : best[1] + 1])
    return window, "current file, around the target", best


def _plan(related: list[Related], current: Path, window: tuple[int, int], remaining: int, map_share: float, show,
          outer: list[Related] = ()) -> _Plan:
    """What goes in whole, what as a map line, what is left out; ``outer``: items packed whole
    already (what lies inside them is covered)."""
    plan = _Plan()
    map_room = int(max(remaining, 0) * map_share)
    whole_room = max(remaining, 0) - map_room
    for item in related:
        if item.path == current and window[0] <= item.start_line and item.end_line <= window[1]:
            plan.covered.append(item)
        elif any(_inside(item, taken) for taken in [*outer, *plan.whole]):
            plan.covered.append(item)
        elif estimate_tokens(item.text) <= whole_room:
            plan.whole.append(item)
            whole_room -= estimate_tokens(item.text)
        else:
            plan.mapped.append(item)
    map_room += whole_room
    kept = []
    for item in plan.mapped:
        size = estimate_tokens(_map_line(item, show(item.path)))
        if size <= map_room:
            kept.append(item)
            map_room -= size
        else:
            plan.left_out.append(item)
    plan.mapped = kept
    return plan


def _planned(plan: _Plan, show) -> int:
    """The estimated tokens a plan packs."""
    return sum(estimate_tokens(item.text) for item in plan.whole) + sum(estimate_tokens(_map_line(item, show(item.path))) for item in plan.mapped)


def _inside(item: Related, outer: Related) -> bool:
    return item.path == outer.path and outer.start_line <= item.start_line and item.end_line <= outer.end_line


def _map_line(item: Related, shown_path: str) -> str:
    doc = (item.docstring or "").strip().split("\n", 1)[0]
    return f"{shown_path}:{item.start_line + 1}: {item.signature}" + (f"  # {doc}" if doc else "") + "\n"


def _assemble(target: Target, plans: list[_Plan], file_part: tuple, show, budget: int) -> PackedContext:
    """Each plan's map and related code in turn, the current file and the target. With two plans
    (file-ranked, then target-ranked) the whole current file closes the first part: it is the same
    for every target in it. A window around the target is not, and goes last."""
    items, manifest, stable = [], [], 0
    title, text, window = file_part
    whole_file = text and title == "current file"
    for number, plan in enumerate(plans):
        _plan_items(plan, show, items, manifest)
        if number == 0 and len(plans) > 1:
            if whole_file:
                _add_file(target, file_part, show, items, manifest)
            stable = len(items)
    if text and not (whole_file and len(plans) > 1):
        _add_file(target, file_part, show, items, manifest)
    manifest.append(_target_entry(target, show, estimate_tokens(target.text)))
    tokens = sum(estimate_tokens(item.text) for item in items) + estimate_tokens(target.text)
    return PackedContext(target, items, manifest, tokens, budget, exact=False, stable_items=stable)


def _plan_items(plan: _Plan, show, items: list[ContextItem], manifest: list[dict]) -> None:
    if plan.mapped:
        ordered = sorted(plan.mapped, key=_place)
        text = "".join(_map_line(item, show(item.path)) for item in ordered)
        items.append(ContextItem("repository map (signatures)", text, "ranked related, no room for the whole text", "repo map"))
    manifest += [_entry(item, show, "repo map", estimate_tokens(_map_line(item, show(item.path))), True) for item in plan.mapped]
    for item in sorted(plan.whole, key=_place):
        items.append(ContextItem(f"{show(item.path)}: {item.symbol}", item.text, item.reason, "related"))
        manifest.append(_entry(item, show, "related", estimate_tokens(item.text), True))
    manifest += [_entry(item, show, "covered", 0, True, " (already inside the current file or another item)") for item in plan.covered]
    manifest += [_entry(item, show, "left out", estimate_tokens(item.text), False) for item in plan.left_out]


def _add_file(target: Target, file_part: tuple, show, items: list[ContextItem], manifest: list[dict]) -> None:
    title, text, window = file_part
    items.append(ContextItem(f"{show(target.path)} ({title})", text, "the file the target is in", "current file"))
    manifest.append(_file_entry(target, show, title, window, estimate_tokens(text)))


def _place(item: Related) -> tuple[str, int]:
    return (str(item.path), item.start_line)


def _entry(item: Related, show, section: str, tokens: int, included: bool, note: str = "") -> dict:
    return {
        "title": f"{show(item.path)}: {item.symbol}",
        "section": section,
        "path": show(item.path),
        "start_line": item.start_line + 1,
        "end_line": item.end_line + 1,
        "symbol": item.symbol,
        "tokens": tokens,
        "reason": item.reason + note,
        "included": included,
    }


def _file_entry(target: Target, show, title: str, window: tuple[int, int], tokens: int) -> dict:
    return {
        "title": f"{show(target.path)} ({title})", "section": "current file", "path": show(target.path),
        "start_line": window[0] + 1, "end_line": window[1] + 1, "symbol": None, "tokens": tokens,
        "reason": "the file the target is in", "included": True,
    }


def _target_entry(target: Target, show, tokens: int) -> dict:
    return {
        "title": f"target: {target.name}", "section": "target", "path": show(target.path),
        "start_line": target.start_line + 1, "end_line": target.end_line + 1, "symbol": target.name,
        "tokens": tokens, "reason": "what was asked about", "included": True,
    }


def _check_exact(packed: PackedContext, plans: list[_Plan], count: CountTokens, file_part: tuple, show) -> PackedContext:
    """Count with the model's tokenizer; drop the lowest-ranked items until the whole fits (the
    target-ranked part's first: the file-ranked part is the prefix other targets share)."""
    while True:
        total = count_all(count, [item.text for item in packed.items] + [packed.target.text])
        plan = next((p for p in reversed(plans) if p.whole or p.mapped), None)
        if total <= packed.budget or plan is None:
            break
        victim = (plan.mapped or plan.whole).pop()
        plan.left_out.append(victim)
        packed = _assemble(packed.target, plans, file_part, show, packed.budget)
    packed.tokens, packed.exact = total, True
    return packed


def count_all(count: CountTokens, texts: list[str]) -> int:
    """The tokens of all ``texts``, counted on several threads: llama.cpp tokenizes without
    holding the GIL, and a 100K-token context is over a second of tokenizing on one core."""
    if len(texts) < 8:
        return sum(map(count, texts))
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        return sum(pool.map(count, texts))


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
