"""The persistent facts cache: one pickle per workspace in the user cache dir.

Entries are keyed by path and validated by size and mtime, so a warm start only stats files.
Each entry keeps its facts as a pickled blob, unpickled only when a request reads that file:
a warm start loads bytes, not hundreds of thousands of objects. The file carries a format
version and the grammar's version; any mismatch starts cold.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Iterable, NamedTuple

import platformdirs

from lsp_server.index.facts import FileFacts
from lsp_server.index.python_symbols import Import

log = logging.getLogger(__name__)

FORMAT = 4


class CachedFile(NamedTuple):
    path: str
    size: int
    mtime_ns: int
    imports: tuple[Import, ...]
    """Kept outside the blob: import links are computed for every file at startup."""
    symbols: int
    blob: bytes


def pack(facts: FileFacts) -> CachedFile:
    return CachedFile(facts.path, facts.size, facts.mtime_ns, facts.imports, len(facts.definitions), pickle.dumps(facts, pickle.HIGHEST_PROTOCOL))


def unpack(entry: CachedFile) -> FileFacts:
    return pickle.loads(entry.blob)


def default_cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir("gemma-lsp", appauthor=False)) / "index"


def _stamp() -> tuple:
    try:
        grammar = version("tree-sitter-python")
    except PackageNotFoundError:
        grammar = "unknown"
    return (FORMAT, grammar)


def cache_file(folder: Path, roots: Iterable[Path]) -> Path:
    key = "\n".join(sorted(str(Path(r).resolve()) for r in roots))
    return folder / f"{hashlib.sha1(key.encode()).hexdigest()[:16]}.pickle"


def load(path: Path) -> dict[str, CachedFile]:
    """The cached facts, or an empty dict when there is no usable cache."""
    try:
        with open(path, "rb") as handle:
            stamp, facts = pickle.load(handle)
    except FileNotFoundError:
        return {}
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ValueError, TypeError) as exc:
        log.info("index cache %s unusable (%s); starting cold", path, exc.__class__.__name__)
        return {}
    return facts if stamp == _stamp() and isinstance(facts, dict) else {}


def save(path: Path, facts: dict[str, CachedFile]) -> None:
    """Write atomically, so a crash mid-write leaves the previous cache intact."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".partial-{os.getpid()}")
        with open(partial, "wb") as handle:
            pickle.dump((_stamp(), facts), handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(partial, path)
    except OSError as exc:
        log.warning("could not write the index cache %s: %s", path, exc)
