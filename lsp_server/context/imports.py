"""Resolve a file's imports to definitions in the workspace (the seed of the full index)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from lsp_server.index.python_symbols import parse_python
from lsp_server.index.symbols import Import

ReadText = Callable[[Path], "str | None"]
"""Returns a file's text (the editor's copy when open), or None when it cannot be read."""


@dataclass(frozen=True)
class ImportedDefinition:
    path: Path
    qualname: str
    kind: str
    text: str
    docstring: str | None


def module_candidates(imp: Import, current_file: Path, roots: Iterable[Path]) -> list[Path]:
    """Files that ``imp`` may name, most likely first."""
    parts = [p for p in imp.module.split(".") if p]
    if imp.level:
        base = current_file.parent
        for _ in range(imp.level - 1):
            base = base.parent
        bases = [base]
    else:
        bases = [b for root in roots for b in (root, root / "src")]
    found = []
    for base in bases:
        stem = base.joinpath(*parts) if parts else base
        found += [stem.with_suffix(".py"), stem / "__init__.py"] if parts else [stem / "__init__.py"]
    return found


def imported_definitions(
    imports: Iterable[Import], current_file: Path, roots: list[Path], read_text: ReadText
) -> list[ImportedDefinition]:
    """The workspace definitions that ``from module import name`` statements bring in."""
    result: list[ImportedDefinition] = []
    seen: set[tuple[Path, str]] = set()
    for imp in imports:
        for name in imp.names:
            hit = _find_definition(imp, name, current_file, roots, read_text)
            if hit is not None and (hit.path, hit.qualname) not in seen and hit.path != current_file:
                seen.add((hit.path, hit.qualname))
                result.append(hit)
    return result


def _find_definition(imp: Import, name: str, current_file: Path, roots: list[Path], read_text: ReadText) -> ImportedDefinition | None:
    for candidate in module_candidates(imp, current_file, roots):
        text = read_text(candidate)
        if text is None:
            continue
        parsed = parse_python(text)
        definition = parsed.find(name)
        if definition is not None:
            return ImportedDefinition(candidate, definition.qualname, definition.kind, parsed.text_of(definition), definition.docstring)
    return None
