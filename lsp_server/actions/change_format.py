"""Reading a Change answer: edits to one or more files, in one of three formats.

- ``symbols``: a path line (``### File: app/config.py``), then a code block holding complete
  top-level definitions and module-level code; each replaces the one of the same name or is added.
- ``search_replace``: Aider's blocks, ``<<<<<<< SEARCH`` / ``=======`` / ``>>>>>>> REPLACE``
  after a path line; an empty SEARCH on a new path creates the file.
- ``diff``: a unified diff (``--- a/x``, ``+++ b/x``, ``@@`` hunks); each hunk is read as a
  search (its context and removed lines) and a replacement (its context and added lines).

Near-misses are repaired by rule and each repair is recorded: fences written ``~~~``, ``py`` or
not closed; a path line written ``File: x``, ``# x``, ``**x**`` or in backticks; no path line
at all (the target's file is meant when it is the only one in play); markers with 5 to 9
characters or a missing ``>>>>>>> REPLACE`` at the end; hunk headers with wrong or no numbers,
blank context lines without their space. Whitespace-only differences between a search text and
the file are the applier's business (change_apply.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

FORMATS = ("symbols", "search_replace", "diff")
EditKind = Literal["code", "replace"]
PATH_LINE = re.compile(
    r"^\s*(?:#{1,4}\s*)?(?:\*\*)?(?:(?:file|path|filename)\s*:\s*)?[`*]*(?P<path>[\w.\-]+(?:/[\w.\-]+)*\.py)[`*]*\s*:?\s*$",
    re.I,
)
FENCE = re.compile(r"^\s*(```|~~~)\s*([\w+-]*)\s*$")
SEARCH = re.compile(r"^\s*<{5,9}\s*SEARCH\s*$")
DIVIDER = re.compile(r"^\s*={5,9}\s*$")
REPLACE = re.compile(r"^\s*>{5,9}\s*(?:REPLACE)?\s*$")
HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+\d+(?:,\d+)? @@")


@dataclass(frozen=True)
class Edit:
    path: str
    """As the answer wrote it (workspace-relative); "" when it named none."""
    kind: EditKind
    """``code``: whole definitions and module-level code merged into the file (or the new file's
    text); ``replace``: ``search`` replaced by ``text``."""
    text: str
    search: str = ""


@dataclass
class ParsedAnswer:
    format: str
    edits: list[Edit] = field(default_factory=list)
    repairs: list[str] = field(default_factory=list)
    """The near-misses repaired, in words."""

    @property
    def parsed(self) -> bool:
        return bool(self.edits)


def parse_answer(answer: str, fmt: str) -> ParsedAnswer:
    """The edits of ``answer`` read as ``fmt``."""
    reader = {"symbols": _symbols, "search_replace": _search_replace, "diff": _diff}[fmt]
    result = ParsedAnswer(fmt)
    lines = answer.replace("\r\n", "\n").split("\n")
    reader(lines, result)
    return result


def _path_of(line: str) -> str | None:
    match = PATH_LINE.match(line)
    return match["path"].lstrip("./") if match else None


def _note(result: ParsedAnswer, repair: str) -> None:
    if repair not in result.repairs:
        result.repairs.append(repair)


def _symbols(lines: list[str], result: ParsedAnswer) -> None:
    """Sections: a path line, then a code block (fenced or not) up to the next path line."""
    sections: list[tuple[str, list[str]]] = []
    for line in lines:
        path = _path_of(line) if not line.startswith((" ", "\t")) else None
        if path is not None:
            if not re.match(r"^###\s*File:\s", line):
                _note(result, f"path line written {line.strip()!r}")
            sections.append((path, []))
        elif sections:
            sections[-1][1].append(line)
        elif line.strip():
            sections.append(("", [line]))
    for path, body in sections:
        code = _unfenced(body, result)
        if code.strip():
            if not path:
                _note(result, "no path line: the code is for the target's file")
            result.edits.append(Edit(path, "code", code))


def _unfenced(body: list[str], result: ParsedAnswer) -> str:
    """The code of a section: inside its first fence (closed or not), else the lines as they are."""
    opened = next((i for i, line in enumerate(body) if FENCE.match(line)), None)
    if opened is None:
        if any(line.strip() for line in body):
            _note(result, "code without a fence")
        return _text(body)
    mark, language = FENCE.match(body[opened]).groups()
    if mark != "```" or language not in ("python", ""):
        _note(result, f"fence written {body[opened].strip()!r}")
    closed = next((i for i in range(opened + 1, len(body)) if FENCE.match(body[i]) and not FENCE.match(body[i])[2]), None)
    if closed is None:
        _note(result, "fence not closed")
        closed = len(body)
    return _text(body[opened + 1 : closed])


def _text(lines: list[str]) -> str:
    text = "\n".join(lines).strip("\n")
    return text + "\n" if text else ""


def _search_replace(lines: list[str], result: ParsedAnswer) -> None:
    path, i = "", 0
    while i < len(lines):
        line = lines[i]
        named = _path_of(line)
        if named is not None:
            path = named
        if not SEARCH.match(line):
            i += 1
            continue
        if line.strip() != "<<<<<<< SEARCH":
            _note(result, f"marker written {line.strip()!r}")
        divider = next((j for j in range(i + 1, len(lines)) if DIVIDER.match(lines[j])), None)
        if divider is None:
            return
        end = next((j for j in range(divider + 1, len(lines)) if REPLACE.match(lines[j]) or SEARCH.match(lines[j])), None)
        if end is None or not REPLACE.match(lines[end]):
            _note(result, "missing >>>>>>> REPLACE")
            end = _fence_end(lines, divider + 1) if end is None else end
        if not path:
            _note(result, "no path line: the block is for the target's file")
        result.edits.append(Edit(path, "replace", _block(lines[divider + 1 : end]), _block(lines[i + 1 : divider])))
        i = end + 1


def _fence_end(lines: list[str], start: int) -> int:
    """Where an unterminated replacement ends: at its closing fence, else at the answer's end."""
    return next((j for j in range(start, len(lines)) if FENCE.match(lines[j])), len(lines))


def _block(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)


def _diff(lines: list[str], result: ParsedAnswer) -> None:
    path, new_file, i = "", False, 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("--- "):
            new_file = _diff_path(line[4:]) in ("dev/null", "")
            i += 1
            continue
        if line.startswith("+++ "):
            path = _diff_path(line[4:])
            i += 1
            continue
        if line.startswith("@@"):
            if not HUNK.match(line):
                _note(result, "hunk header without numbers")
            end = next((j for j in range(i + 1, len(lines)) if lines[j].startswith(("@@", "--- ", "+++ ")) or FENCE.match(lines[j])), len(lines))
            old, new = _hunk(lines[i + 1 : end], result)
            if not path:
                _note(result, "no file header: the hunk is for the target's file")
            if old.strip() or new.strip():
                result.edits.append(Edit(path, "code", new) if new_file and not old.strip() else Edit(path, "replace", new, old))
            i = end
            continue
        i += 1


def _diff_path(text: str) -> str:
    name = text.strip().split("\t")[0].strip()
    if name.startswith(("a/", "b/")):
        name = name[2:]
    return name.lstrip("/")


def _hunk(body: list[str], result: ParsedAnswer) -> tuple[str, str]:
    old, new = [], []
    while body and not body[-1].strip():
        body = body[:-1]
    for line in body:
        if line.startswith("\\"):
            continue
        mark, rest = (line[:1], line[1:]) if line[:1] in " +-" else ("", line)
        if not mark:
            _note(result, "hunk line without its prefix" if line.strip() else "blank context line without its space")
        if mark in (" ", ""):
            old.append(rest)
            new.append(rest)
        elif mark == "-":
            old.append(rest)
        else:
            new.append(rest)
    return _block(old), _block(new)
