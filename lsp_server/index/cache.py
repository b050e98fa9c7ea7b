"""The persistent facts cache: one pickle per workspace in the user cache dir.

Entries are keyed by path and validated by size and mtime, so a warm start only stats files.
The file carries a format version and the grammar's version; any mismatch starts cold.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Iterable

import platformdirs

from lsp_server.index.facts import FileFacts

log = logging.getLogger(__name__)

FORMAT = 2


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


def load(path: Path) -> dict[str, FileFacts]:
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


def save(path: Path, facts: dict[str, FileFacts]) -> None:
    """Write atomically, so a crash mid-write leaves the previous cache intact."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".partial-{os.getpid()}")
        with open(partial, "wb") as handle:
            pickle.dump((_stamp(), facts), handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(partial, path)
    except OSError as exc:
        log.warning("could not write the index cache %s: %s", path, exc)
