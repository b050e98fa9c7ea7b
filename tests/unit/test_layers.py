"""The shape of the house: the layers import downward only (the pure cores never import pygls,
lsp_server never imports quantize: gemma-quantize builds on lsp_server, not the other way round),
and no module is over 400 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PURE = ("index", "context", "model", "verify", "actions", "privacy", "pipeline")
MAX_LINES = 400


def imported(source: str) -> set[str]:
    """Top-level package names ``source`` imports, also inside functions."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def importers(folder: Path, package: str) -> list[str]:
    return sorted(str(p.relative_to(REPO)) for p in folder.rglob("*.py") if package in imported(p.read_text(encoding="utf-8")))


def test_lsp_server_never_imports_quantize():
    assert importers(REPO / "lsp_server", "quantize") == []


@pytest.mark.parametrize("layer", PURE)
def test_pure_layers_never_import_pygls(layer):
    assert importers(REPO / "lsp_server" / layer, "pygls") == [] and importers(REPO / "lsp_server" / layer, "lsprotocol") == []


def test_the_scan_finds_imports_anywhere():
    assert imported("import a.b\nfrom c.d import e\ndef f():\n    from quantize.x import y\nfrom . import z\n") == {"a", "c", "quantize"}


def test_no_module_is_over_400_lines():
    modules = [p for package in ("lsp_server", "quantize") for p in (REPO / package).rglob("*.py")]
    assert modules and {str(p.relative_to(REPO)): n for p in modules if (n := len(p.read_text().splitlines())) > MAX_LINES} == {}
