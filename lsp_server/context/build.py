"""The context of a request: find the target, gather related code, pack it into the budget.

This is the seam the workspace index plugs into: for now the related code is the definitions the
current file imports from the workspace, found with tree-sitter. Secret files (privacy.secrets)
are refused as the current file and read as missing when imported.
"""

from __future__ import annotations

from pathlib import Path

from lsp_server.context.imports import ReadText, imported_definitions
from lsp_server.context.pack import CountTokens, PackedContext, estimate_tokens, pack_context
from lsp_server.context.target import find_target
from lsp_server.errors import NoTarget
from lsp_server.index.python_symbols import parse_python
from lsp_server.privacy.secrets import refuse_if_secret, without_secrets


def build_context(
    path: Path,
    text: str,
    start: tuple[int, int],
    end: tuple[int, int],
    roots: list[Path],
    read_text: ReadText,
    budget: int,
    count: CountTokens = estimate_tokens,
) -> PackedContext:
    refuse_if_secret(path, roots)
    parsed = parse_python(text)
    target = find_target(path, text, parsed, start, end)
    if target is None:
        raise NoTarget(f"No function, class or selection at line {start[0] + 1} of {path.name}: put the cursor inside a definition or select code.")
    related = imported_definitions(parsed.imports, path, roots, without_secrets(read_text, roots))
    root = next((r for r in roots if _is_under(path, r)), None)
    return pack_context(target, text, related, budget, count, relative_to=root)


def _is_under(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
        return True
    except ValueError:
        return False


def read_file(path: Path) -> str | None:
    """Read a workspace file as UTF-8, or None when it is missing, unreadable or binary."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if b"\0" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None
