"""Where the names an answer may use come from: the target's module and the code in its context.

The verifier adds the import of a name a test or a rewrite used undefined (verify/repair.py);
this module says which imports the workspace offers: the target module's own namespace, and
the top-level definitions of the other workspace modules in the packed context (the code the
model saw, so the names it is likely to borrow).
"""

from __future__ import annotations

from pathlib import Path

from lsp_server.context.pack import PackedContext
from lsp_server.verify import repair

CODE_SECTIONS = ("repo map", "related", "covered", "left out")
"""Manifest sections that list ranked definitions (not the current file, target or history)."""


def module_name(path: Path, root: Path) -> str:
    """The dotted module a workspace file is, as a test imports it (``src/`` left out)."""
    parts = list(path.resolve().relative_to(root.resolve()).with_suffix("").parts)
    if parts and parts[0] == "src":
        parts = parts[1:]
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def package_of(path: Path, root: Path) -> str:
    """The package a module's relative imports start from (a package's ``__init__`` is its own)."""
    module = module_name(path, root)
    return module if path.stem == "__init__" else module.rpartition(".")[0]


def workspace_names(manifest: list[dict], root: Path) -> list[tuple[str, str]]:
    """(module, name) for each top-level definition of a workspace module the manifest lists;
    test modules are left out (a test never imports from another test module)."""
    found = []
    for row in manifest:
        symbol, shown = row.get("symbol"), row.get("path")
        if row.get("section") not in CODE_SECTIONS or not symbol or "." in symbol or not shown:
            continue
        relative = Path(shown)
        if relative.is_absolute():
            if not relative.is_relative_to(root):  # outside the workspace: not importable as its module
                continue
            relative = relative.relative_to(root)
        if relative.suffix != ".py" or _is_test_module(relative):
            continue
        found.append((module_name(root / relative, root), symbol))
    return found


def _is_test_module(relative: Path) -> bool:
    return relative.name.startswith("test_") or relative.stem.endswith("_test") or relative.stem == "conftest" or "tests" in relative.parts


def known_imports(packed: PackedContext, root: Path, module_source: str) -> dict[str, str]:
    """Name -> the one import line binding it, for answers about ``packed``'s target."""
    path = packed.target.path
    try:
        module, package = module_name(path, root), package_of(path, root)
    except ValueError:
        return {}
    return repair.known_imports(module, package, module_source, workspace_names(packed.manifest, root))
