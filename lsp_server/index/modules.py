"""Dotted module names <-> workspace files, and imports resolved to files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from lsp_server.index.symbols import Import


def module_names(path: Path | str, roots: Iterable[Path]) -> list[str]:
    """The dotted names ``path`` is importable as from each root (and each root's src/)."""
    names, text = [], str(path)
    for root in roots:
        for base in (str(root), os.path.join(root, "src")):
            if not text.startswith(base.rstrip(os.sep) + os.sep):
                continue
            parts = os.path.splitext(text[len(base.rstrip(os.sep)) + 1 :])[0].split(os.sep)
            if parts and parts[-1] == "__init__":
                parts.pop()
            if parts and all(p.isidentifier() for p in parts):
                names.append(".".join(parts))
    return names


class ModuleNamer:
    """``module_names`` for many paths under the same roots (the prefixes worked out once)."""

    def __init__(self, roots: Iterable[Path]) -> None:
        self._prefixes = [base.rstrip(os.sep) + os.sep for root in roots for base in (str(root), os.path.join(root, "src"))]

    def names(self, path: str) -> list[str]:
        names = []
        for prefix in self._prefixes:
            if path.startswith(prefix):
                parts = os.path.splitext(path[len(prefix) :])[0].split(os.sep)
                if parts and parts[-1] == "__init__":
                    parts.pop()
                if parts and all(p.isidentifier() for p in parts):
                    names.append(".".join(parts))
        return names


def relative_module(imp: Import, current: Path | str, roots: Iterable[Path], names: list[str] | None = None) -> str | None:
    """The absolute dotted name of a relative import, or the module as written. ``names``: the
    current file's ``module_names`` when the caller has them."""
    if not imp.level:
        return imp.module
    names = module_names(current, roots) if names is None else names
    if not names:
        return None
    package = names[0].split(".")
    if os.path.basename(current) != "__init__.py":
        package = package[:-1]
    keep = len(package) - (imp.level - 1)
    if keep < 0:
        return None
    return ".".join([*package[:keep], *([imp.module] if imp.module else [])])
