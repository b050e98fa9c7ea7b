"""A workspace written from a dict of files and indexed (no cache), for the context tests."""

from pathlib import Path

from lsp_server.config import IndexSettings
from lsp_server.index.workspace import WorkspaceIndex


def indexed(root: Path, files: dict[str, str]) -> WorkspaceIndex:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    index = WorkspaceIndex([root], IndexSettings(cache=False))
    index.build()
    return index
