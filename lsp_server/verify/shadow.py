"""A throwaway copy of the workspace with the proposed changes applied; the user's tree is never touched."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from lsp_server.errors import GemmaLspError

SKIPPED_DIRS = {".git", ".hg", ".venv", "venv", "env", "node_modules", "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".tox", ".nox", "build", "dist", ".hypothesis"}
MAX_SHADOW_BYTES = 200 * 2**20


class ShadowTooLarge(GemmaLspError):
    """The workspace is too large to copy for verification."""


@dataclass(frozen=True)
class FileChange:
    path: Path
    """Absolute path in the user's workspace."""
    new_text: str
    """The whole new content of the file."""


class ShadowWorkspace:
    """``with ShadowWorkspace(root, changes) as shadow:`` gives a temp copy with ``changes`` applied."""

    def __init__(self, root: Path, changes: list[FileChange] = ()) -> None:
        self.root = root.resolve()
        self.changes = list(changes)
        self._tmp: tempfile.TemporaryDirectory | None = None
        self.path: Path | None = None

    def __enter__(self) -> "ShadowWorkspace":
        self._tmp = tempfile.TemporaryDirectory(prefix="gemma-lsp-shadow-")
        self.path = Path(self._tmp.name) / self.root.name
        size = [0]
        shutil.copytree(self.root, self.path, ignore=lambda d, names: self._ignore(d, names, size), symlinks=True)
        for change in self.changes:
            target = self.mirror(change.path)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(change.new_text, encoding="utf-8")
        return self

    def __exit__(self, *exc) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()

    def mirror(self, path: Path) -> Path:
        """Where ``path`` of the user's workspace lies in the shadow copy."""
        return self.path / path.resolve().relative_to(self.root)

    def _ignore(self, directory: str, names: list[str], size: list[int]) -> set[str]:
        skipped = {n for n in names if n in SKIPPED_DIRS or n.endswith(".egg-info")}
        for name in names:
            entry = Path(directory) / name
            if name not in skipped and entry.is_file() and not entry.is_symlink():
                size[0] += entry.stat().st_size
        if size[0] > MAX_SHADOW_BYTES:
            raise ShadowTooLarge(f"{self.root} holds more than {MAX_SHADOW_BYTES // 2**20} MB to copy for verification; set verify.runTests to false for this workspace.")
        return skipped
