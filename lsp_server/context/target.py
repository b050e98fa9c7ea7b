"""What an action is about: the symbol at the cursor or the selected code."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lsp_server.index.symbols import Definition, ParsedFile


@dataclass(frozen=True)
class Target:
    path: Path
    name: str
    """The symbol's qualified name, or a description of the selection."""
    kind: str
    """"function", "method", "class" or "selection"."""
    start_line: int
    end_line: int
    """Inclusive, 0-based."""
    text: str
    definition: Definition | None
    """The definition the target is (or lies in), if any."""


def find_target(path: Path, text: str, parsed: ParsedFile, start: tuple[int, int], end: tuple[int, int]) -> Target | None:
    """The selection when ``start != end``, else the innermost definition at ``start``."""
    lines = text.splitlines(keepends=True)
    if start != end and _selected(lines, start, end).strip():
        return _selection_target(path, lines, parsed, start, end)
    definition = parsed.innermost_at(start[0])
    if definition is None:
        return None
    return Target(
        path=path,
        name=definition.qualname,
        kind=definition.kind,
        start_line=definition.start_line,
        end_line=definition.end_line,
        text=parsed.text_of(definition),
        definition=definition,
    )


def _selection_target(path: Path, lines: list[str], parsed: ParsedFile, start: tuple[int, int], end: tuple[int, int]) -> Target:
    end_line = end[0] - 1 if end[1] == 0 and end[0] > start[0] else end[0]
    enclosing = parsed.innermost_at(start[0])
    where = f" in {enclosing.qualname}" if enclosing is not None and enclosing.contains_line(end_line) else ""
    return Target(
        path=path,
        name=f"lines {start[0] + 1}-{end_line + 1}{where}",
        kind="selection",
        start_line=start[0],
        end_line=end_line,
        text=_selected(lines, start, end),
        definition=enclosing,
    )


def _selected(lines: list[str], start: tuple[int, int], end: tuple[int, int]) -> str:
    if start[0] == end[0]:
        return lines[start[0]][start[1] : end[1]] if start[0] < len(lines) else ""
    head = lines[start[0]][start[1] :] if start[0] < len(lines) else ""
    middle = "".join(lines[start[0] + 1 : end[0]])
    tail = lines[end[0]][: end[1]] if end[0] < len(lines) else ""
    return head + middle + tail
