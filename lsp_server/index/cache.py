"""The persistent facts cache: one file per workspace in the user cache dir.

Entries are keyed by path and validated by size and mtime, so a warm start only stats files.
The file is a small pickled header (paths, sizes, times, where each file's facts lie, and every
file's imports pickled as one table) followed by the facts of every file, each pickled on its own.
A warm start reads the header and maps the rest: a file's facts are read and unpickled only when a
request first needs them, the imports table when the import links are first needed. The
header carries a format version and the grammar's version; any mismatch starts cold.
"""

from __future__ import annotations

import hashlib
import logging
import mmap
import os
import pickle
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Iterable, NamedTuple

import platformdirs

from lsp_server.index.facts import FileFacts

log = logging.getLogger(__name__)

FORMAT = 8


class CachedFile(NamedTuple):
    path: str
    size: int
    mtime_ns: int
    imports: tuple[tuple, ...] | int
    """The file's imports as plain (module, level, names, aliases) tuples (Import objects took 13x
    longer to unpickle, and a worker pickles every file's imports to send them); for an entry read
    from the cache file, its number in the imports table, unpickled only when a request first
    needs the import links."""
    symbols: int
    blob: bytes | tuple
    """The pickled facts; for an entry read from the cache file (the mapped file, start, end,
    the imports table), read on demand."""
    modules: tuple[str, ...] | None = None
    """The dotted names the file is importable as (worked out once, kept in the cache)."""

    def data(self) -> bytes:
        return self.blob if isinstance(self.blob, bytes) else self.blob[0][self.blob[1] : self.blob[2]]

    def imported(self) -> tuple[tuple, ...]:
        """The file's imports as (module, level, names, aliases) rows."""
        return self.imports if isinstance(self.imports, tuple) else self.blob[3].get(self.imports)


class _ImportsTable:
    """Every cached file's imports, pickled together as plain tuples and unpickled on first use."""

    def __init__(self, blob: bytes) -> None:
        self._blob, self._table = blob, None

    def get(self, number: int) -> tuple[tuple, ...]:
        if self._table is None:
            self._table = pickle.loads(self._blob)
        return self._table[number]


def pack(facts: FileFacts, modules: tuple[str, ...] | None = None) -> CachedFile:
    return CachedFile(facts.path, facts.size, facts.mtime_ns, tuple(map(tuple, facts.imports)), len(facts.definitions),
                      pickle.dumps(facts, pickle.HIGHEST_PROTOCOL), modules)


def unpack(entry: CachedFile) -> FileFacts:
    return pickle.loads(entry.data())


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
    return folder / f"{hashlib.sha1(key.encode()).hexdigest()[:16]}.cache"


def load(path: Path) -> dict[str, CachedFile]:
    """The cached facts, or an empty dict when there is no usable cache."""
    try:
        with open(path, "rb") as handle:
            header = pickle.load(handle)
            if not isinstance(header, tuple) or len(header) != 2 or header[0] != _stamp():
                return {}
            start = handle.tell()
            area = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) if os.fstat(handle.fileno()).st_size > start else None
    except FileNotFoundError:
        return {}
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ValueError, TypeError, ImportError) as exc:
        log.info("index cache %s unusable (%s); starting cold", path, exc.__class__.__name__)
        return {}
    paths, sizes, mtimes, symbols, ends, imports, modules = header[1]
    table, new, result, begin = _ImportsTable(imports), tuple.__new__, {}, start
    for number, (path_, size, mtime_ns, count, end, names) in enumerate(zip(paths, sizes, mtimes, symbols, ends, modules)):
        # tuple.__new__ builds each entry without a Python-level call: a warm start makes tens of thousands.
        result[path_] = new(CachedFile, (path_, size, mtime_ns, number, count, (area, begin, start + end, table), names))
        begin = start + end
    return result


def save(path: Path, facts: dict[str, CachedFile]) -> None:
    """Write atomically, so a crash mid-write leaves the previous cache intact (entries carry their module names)."""
    entries = list(facts.values())
    ends, total = [], 0
    for entry in entries:
        total += len(entry.blob) if isinstance(entry.blob, bytes) else entry.blob[2] - entry.blob[1]
        ends.append(total)
    imports = pickle.dumps([e.imported() for e in entries], pickle.HIGHEST_PROTOCOL)
    columns = ([e.path for e in entries], [e.size for e in entries], [e.mtime_ns for e in entries], [e.symbols for e in entries], ends, imports,
               [e.modules for e in entries])
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".partial-{os.getpid()}")
        with open(partial, "wb") as handle:
            pickle.dump((_stamp(), columns), handle, protocol=pickle.HIGHEST_PROTOCOL)
            for entry in entries:
                handle.write(entry.data())
        os.replace(partial, path)
    except OSError as exc:
        log.warning("could not write the index cache %s: %s", path, exc)
