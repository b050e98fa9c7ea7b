"""``gemma-lsp context FILE:LINE [--budget N] [--json]``: what Explain would send, and why."""

from __future__ import annotations

import json

from lsp_server.config import Settings
from lsp_server.context.build import build_context, read_file
from lsp_server.cli.explain import parse_location, workspace_root
from lsp_server.errors import DocumentNotFound, PositionOutOfRange
from lsp_server.index.git_facts import GitFacts
from lsp_server.index.workspace import WorkspaceIndex

COLUMNS = ("section", "path", "start_line", "end_line", "symbol", "tokens", "reason")


def context_command(settings: Settings, location: str, budget: int, as_json: bool, show_text: bool) -> int:
    path, line, column = parse_location(location)
    path = path.resolve()
    text = read_file(path)
    if text is None:
        raise DocumentNotFound(f"Cannot read {path} as a UTF-8 text file.")
    if line >= len(text.splitlines()):
        raise PositionOutOfRange(f"{path.name} has {len(text.splitlines())} lines; line {line + 1} is outside it.")
    root = workspace_root(path)
    index = WorkspaceIndex([root], settings.index)
    index.build()
    git = GitFacts.open(root) if settings.index.git else None
    recent = frozenset(str(p) for p in git.uncommitted()) if git is not None else frozenset()
    packed = build_context(path, text, (line, column), (line, column), index, budget, settings=settings.context, recent=recent)
    items = [{key: entry.get(key) for key in ("title", *COLUMNS, "included")} for entry in packed.manifest]
    if as_json:
        print(json.dumps({"tokens": packed.tokens, "budget": budget, "exact": packed.exact, "items": items}, indent=2))
        return 0
    print(_table(items))
    print(f"\n{packed.tokens} of {budget} tokens (estimated)")
    if show_text:
        for item in packed.items:
            print(f"\n===== {item.section}: {item.title} =====\n{item.text.rstrip()}")
        print(f"\n===== target: {packed.target.name} =====\n{packed.target.text.rstrip()}")
    return 0


def _table(items: list[dict]) -> str:
    rows = [[str(item.get(c) if item.get(c) is not None else "") for c in COLUMNS] for item in items]
    widths = [min(60, max(len(c), *(len(r[i]) for r in rows))) for i, c in enumerate(COLUMNS)] if rows else [len(c) for c in COLUMNS]
    line = lambda cells: "  ".join(cell[:w].ljust(w) for cell, w in zip(cells, widths))  # noqa: E731
    return "\n".join([line(COLUMNS), line(["-" * w for w in widths]), *(line(r) for r in rows)])
