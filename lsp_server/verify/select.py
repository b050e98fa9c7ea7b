"""Which tests exercise a module: the test files that import it (the index refines this with
call-level links between tests and code)."""

from __future__ import annotations

import re
from pathlib import Path

from lsp_server.verify.shadow import SKIPPED_DIRS


def is_test_file(path: Path) -> bool:
    return path.suffix == ".py" and (path.name.startswith("test_") or path.stem.endswith("_test"))


def tests_importing(root: Path, module: str, limit: int = 50) -> list[str]:
    """Test files under ``root`` (relative paths) that import ``module`` or a name from it."""
    return files_importing(root, module, tests=True, limit=limit)


def files_importing(root: Path, module: str, tests: bool, limit: int = 50) -> list[str]:
    """Test files (``tests``) or other Python files under ``root`` (relative paths) that import
    ``module`` or a name from it."""
    if not module:
        return []
    pattern = re.compile(rf"^\s*(from\s+{re.escape(module)}\s+import|import\s+{re.escape(module)}\b{_as_member(module)})", re.M)
    found = []
    for path in sorted(root.rglob("*.py")):
        if any(part in SKIPPED_DIRS for part in path.relative_to(root).parts) or is_test_file(path) != tests:
            continue
        try:
            if pattern.search(path.read_text(encoding="utf-8", errors="replace")):
                found.append(str(path.relative_to(root)))
        except OSError:
            continue
        if len(found) >= limit:
            break
    return found


def _as_member(module: str) -> str:
    """The pattern's alternative for ``from package import module`` (``from desk import config``)."""
    package, _, name = module.rpartition(".")
    return rf"|from\s+{re.escape(package)}\s+import\s+[^\n]*\b{re.escape(name)}\b" if package else ""
