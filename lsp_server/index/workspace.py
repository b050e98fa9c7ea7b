"""The workspace index: facts of every Python file, kept current, queryable while it builds.

Thread-safe: one build runs on a background thread while requests read what is there so far,
and editor changes update single files. Every mutation takes the lock; readers get copies or
immutable facts.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from lsp_server.config import IndexSettings
from lsp_server.index import cache
from lsp_server.index.discovery import ExcludePath, FoundFile, Skipped, discover, examine
from lsp_server.index.editing import EditedTrees
from lsp_server.index.facts import FileFacts, extract_facts
from lsp_server.index.modules import ModuleNamer, relative_module
from lsp_server.index.parsing import ParseFailure, default_workers, parse_all
from lsp_server.index.python_symbols import parse_python
from lsp_server.index.symbols import Import, ParsedFile

log = logging.getLogger(__name__)

OnProgress = Callable[[int, int], None]
"""Called with (files done, files in total) while the index builds."""


@dataclass
class BuildReport:
    files: int = 0
    """Files in the index (skipped ones left out)."""
    bytes: int = 0
    symbols: int = 0
    parsed: int = 0
    from_cache: int = 0
    seconds: float = 0.0
    cancelled: bool = False
    skipped: dict[str, str] = field(default_factory=dict)


class WorkspaceIndex:
    def __init__(
        self,
        roots: Iterable[Path],
        settings: IndexSettings | None = None,
        exclude_path: ExcludePath | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        self.roots = [Path(r) for r in roots]
        self.settings = settings or IndexSettings()
        self.exclude_path = exclude_path
        """The hook for policies that keep files out (the privacy layer's secret-file filter)."""
        self._cache_path = cache.cache_file(cache_dir or cache.default_cache_dir(), self.roots) if self.settings.cache else None
        self._lock = threading.RLock()
        self._facts: dict[str, FileFacts] = {}
        self._packed: dict[str, cache.CachedFile] = {}
        """Files known from the cache whose facts were not needed yet (see ``facts``)."""
        self._modules: dict[str, str] = {}
        self._namer = ModuleNamer(self.roots)
        self._links = _ImportLinks()
        self._edited: dict[str, float] = {}
        self._skipped: dict[str, str] = {}
        self._trees = EditedTrees()
        self.generation = 0
        """Bumped on every change; consumers cache derived data against it."""
        self.files_shape = 0
        """Bumped when files come or go (the module map changes); not for edits inside files."""
        self.progress = (0, 0)
        self._cached_count = 0
        self._not_building = threading.Event()
        self._not_building.set()
        self._build_started = 0.0

    # -- building -------------------------------------------------------------------------

    def build(self, on_progress: OnProgress | None = None, cancel: threading.Event | None = None) -> BuildReport:
        """Index every file under the roots: cached facts where still valid, parsing the rest."""
        self._build_started = time.monotonic()
        self._not_building.clear()
        try:
            return self._build(on_progress, cancel)
        finally:
            self._not_building.set()

    def wait_for_build(self, grace: float) -> bool:
        """Wait for a build in progress, but not past ``grace`` seconds after it started (a large
        workspace indexing for minutes must not hold every request back). True when none runs."""
        return self._not_building.wait(max(0.0, self._build_started + grace - time.monotonic()))

    def _build(self, on_progress: OnProgress | None, cancel: threading.Event | None) -> BuildReport:
        started = time.perf_counter()
        found, skipped = discover(self.roots, self._excludes(), self.settings.max_file_bytes, self.exclude_path)
        for item in skipped:
            self._skip(str(item.path), item.reason)
        self._forget_missing({f.name for f in found})
        stale = self._take_cached(found)
        report = BuildReport(files=len(found), from_cache=len(found) - len(stale))
        self._report(on_progress, report.from_cache, len(found))
        done = report.from_cache
        for batch in parse_all(stale, self._workers(), lambda: cancel is not None and cancel.is_set(), namer=self._namer):
            for result in batch:
                self._accept(result)
            done += len(batch)
            report.parsed += sum(isinstance(result, cache.CachedFile) for result in batch)
            self._report(on_progress, done, len(found))
        report.cancelled = cancel is not None and cancel.is_set()
        # Rewriting the cache costs seconds on a large tree: only when it would say something new.
        # (Files that fail to parse are never cached, so they alone do not count.)
        if not report.cancelled and self._cache_path is not None and (report.parsed or report.from_cache != self._cached_count):
            cache.save(self._cache_path, self._cache_entries())
        return self._finish(report, started)

    def _forget_missing(self, present: set[str]) -> None:
        """A rebuild drops files that are gone from the disk (open documents stay)."""
        with self._lock:
            gone = [p for p in [*self._facts, *self._packed] if p not in present and not self._trees.is_open(p)]
        for path in gone:
            self.remove(Path(path))

    def _excludes(self) -> list[str]:
        return [p.strip() for p in self.settings.exclude.split(",") if p.strip()]

    def _workers(self) -> int:
        return self.settings.workers or default_workers()

    def _take_cached(self, found: list[FoundFile]) -> list[FoundFile]:
        cached = cache.load(self._cache_path) if self._cache_path is not None else {}
        self._cached_count = len(cached)
        stale, valid = [], []
        for item in found:
            entry = cached.get(item.name)
            if entry is not None and entry.size == item.size and entry.mtime_ns == item.mtime_ns:
                valid.append(entry)
            else:
                stale.append(item)
        self._store_all_packed(valid)
        return stale

    def _store_all_packed(self, entries: list[cache.CachedFile]) -> None:
        """``_store_packed`` for a whole warm start at once: tens of thousands of files, one lock."""
        with self._lock:
            for entry in entries:
                if entry.path in self._facts or entry.path in self._packed:
                    self._register(entry.path, entry.modules)
                else:
                    self._skipped.pop(entry.path, None)
                    for name in entry.modules if entry.modules is not None else self._namer.names(entry.path):
                        self._modules.setdefault(name, entry.path)
                self._packed[entry.path] = entry
            self.files_shape += 1
            self.generation += 1

    def _accept(self, result: cache.CachedFile | ParseFailure) -> None:
        if isinstance(result, ParseFailure):
            self._skip(result.path, result.reason)
        elif not self._trees.is_open(result.path):  # the editor's text wins over the disk
            self._store_packed(result.path, result)

    def _report(self, on_progress: OnProgress | None, done: int, total: int) -> None:
        self.progress = (done, total)
        if on_progress is not None:
            on_progress(done, total)

    def _finish(self, report: BuildReport, started: float) -> BuildReport:
        with self._lock:
            report.files = len(self._facts) + len(self._packed)
            report.bytes = sum(f.size for f in self._facts.values()) + sum(e.size for e in self._packed.values())
            report.symbols = sum(len(f.definitions) for f in self._facts.values()) + sum(e.symbols for e in self._packed.values())
            report.skipped = dict(self._skipped)
        report.seconds = time.perf_counter() - started
        return report

    def _skip(self, path: str, reason: str) -> None:
        with self._lock:
            if self._skipped.get(path) != reason:
                log.info("index: skipping %s: %s", path, reason)
                self._skipped[path] = reason

    # -- single-file updates --------------------------------------------------------------

    def update_text(self, path: Path, text: str, edited: bool = True) -> FileFacts:
        """Index the editor's text of ``path`` (incremental re-parse when it was seen before).

        ``edited``: the user changed it (didChange), which ranks the file as recently edited.
        """
        facts = self._trees.update(str(path), text)
        if edited:
            with self._lock:
                self._edited[str(path)] = time.time()
        self._store(facts)
        return facts

    def index_text(self, path: Path, text: str) -> FileFacts:
        """Index ``text`` as the content of ``path`` without tracking it as an open document."""
        data = text.encode("utf-8", "surrogatepass")
        facts = extract_facts(str(path), data, len(data), 0)
        self._store(facts)
        return facts

    def parsed_document(self, path: Path, text: str) -> ParsedFile:
        """``parse_python(text)``, without parsing when ``text`` is what the editor last sent for
        ``path`` (didOpen/didChange keep its tree): requests on open documents parse nothing."""
        return self._trees.parsed(str(path), text) or parse_python(text)

    def close_document(self, path: Path) -> None:
        """The editor closed ``path``: forget its tree and re-read the file as it is on disk."""
        self._trees.forget(str(path))
        self.refresh(path)

    def refresh(self, path: Path) -> None:
        """Re-read ``path`` from disk (a change made outside the editor), or drop it when gone."""
        if self._trees.is_open(str(path)):
            return
        try:
            found = examine(path, self.roots, self._excludes(), self.settings.max_file_bytes, self.exclude_path)
        except OSError:
            found = None
        if isinstance(found, Skipped):
            self._skip(str(found.path), found.reason)
        if not isinstance(found, FoundFile):
            self.remove(path)
            return
        self._accept(next(iter(parse_all([found], 1, namer=self._namer)))[0])

    def remove(self, path: Path) -> None:
        with self._lock:
            if str(path) in self._facts or str(path) in self._packed:
                self.files_shape += 1
            self._unstore(str(path))
            self._links.dirty.add(str(path))
            self.generation += 1

    # -- storage and derived maps ---------------------------------------------------------

    def _store(self, facts: FileFacts) -> None:
        with self._lock:
            self._register(facts.path)
            self._facts[facts.path] = facts

    def _store_packed(self, path: str, entry: cache.CachedFile) -> None:
        with self._lock:
            self._register(path, entry.modules)
            self._packed[path] = entry

    def _register(self, path: str, modules: Iterable[str] | None = None) -> None:
        """``modules``: the names ``path`` is importable as, when the caller has them."""
        if path not in self._facts and path not in self._packed:
            self.files_shape += 1
        self._links.dirty.add(path)
        self._unstore(path)
        self._skipped.pop(path, None)
        for name in self._namer.names(path) if modules is None else modules:
            self._modules.setdefault(name, path)
        self.generation += 1

    def _cache_entries(self) -> dict[str, cache.CachedFile]:
        with self._lock:
            fresh = {path: cache.pack(f) for path, f in self._facts.items() if f.mtime_ns}  # open documents have none
            entries = {**self._packed, **fresh}
            return {p: e if e.modules is not None else e._replace(modules=tuple(self._namer.names(p))) for p, e in entries.items()}

    def _unstore(self, path: str) -> None:
        old = self._facts.pop(path, None) or self._packed.pop(path, None)
        if old is None:
            return
        for name in self._namer.names(path):
            if self._modules.get(name) == path:
                del self._modules[name]

    def _import_targets(self, row: tuple, path: str) -> list[str]:
        """Workspace files an import names; ``row``: an Import or its plain tuple from the cache.
        Absolute imports (most of them) build no object: the first request links every file's
        imports, hundreds of thousands on a large workspace."""
        module = self._module_named(row, path)
        if module is None:
            return []
        targets = [self._modules.get(module)]
        targets += [self._modules.get(f"{module}.{name}" if module else name) for name in row[2]]
        return [t for t in targets if t is not None and t != path]

    def _module_named(self, row: tuple, path: str) -> str | None:
        """The absolute module an import names (an Import or its plain tuple); only a relative
        one needs the file's own module names."""
        if not row[1]:
            return row[0]
        return relative_module(Import(*row), path, self.roots, self._namer.names(path))

    # -- queries (valid on a partly built index) ------------------------------------------

    def facts(self, path: Path | str) -> FileFacts | None:
        key = str(path)
        with self._lock:
            found = self._facts.get(key)
            if found is None and key in self._packed:
                found = self._facts[key] = cache.unpack(self._packed.pop(key))
            return found

    def snapshot(self) -> dict[str, FileFacts]:
        """Every file's facts (unpacks the whole cache: for tools and benchmarks, not requests)."""
        with self._lock:
            return {path: self.facts(path) for path in [*self._facts, *self._packed]}

    def module_file(self, dotted: str) -> str | None:
        with self._lock:
            return self._modules.get(dotted)

    def resolve_import(self, imp: Import, path: Path | str) -> str | None:
        """The workspace file an import's module names, if it is in the index."""
        module = self._module_named(imp, str(path))
        return self.module_file(module) if module is not None else None

    def files_defining(self, name: str) -> list[str]:
        """Files with a definition called ``name`` (a scan of every file: for tools, not requests)."""
        return sorted(path for path, facts in self.snapshot().items() if any(d.name == name for d in facts.definitions))

    def imports_of(self, path: Path | str) -> list[str]:
        """Workspace files that ``path`` imports (modules, and submodules named in from-imports)."""
        return sorted(self._import_links()[0].get(str(path), ()))

    def importers_of(self, path: Path | str) -> list[str]:
        return sorted(self._import_links()[1].get(str(path), ()))

    def _import_links(self) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
        # Kept lazily: during a build a file may import modules not indexed yet, so all links are
        # recomputed when files came or went; an edit inside a file recomputes only its own.
        with self._lock:
            links = self._links
            if links.files_shape != self.files_shape:
                links.reset(self.files_shape, [*self._facts, *self._packed])
            for path in links.dirty:
                known = self._facts.get(path) or self._packed.get(path)
                imports = known.imported() if isinstance(known, cache.CachedFile) else known.imports if known else ()
                targets = {t for imp in imports for t in self._import_targets(imp, path)}
                links.set(path, targets)
            links.dirty.clear()
            return links.imports, links.importers

    def edited_recently(self) -> dict[str, float]:
        with self._lock:
            return dict(self._edited)

    def skipped(self) -> dict[str, str]:
        with self._lock:
            return dict(self._skipped)

    def ensure_indexed(self, paths: Iterable[Path]) -> None:
        """Index these files now if the background build has not reached them yet."""
        for path in paths:
            if self.facts(path) is None and path.is_file() and str(path) not in self.skipped():
                self.refresh(path)


class _ImportLinks:
    """Which workspace file imports which, both ways; ``dirty`` files are recomputed on read."""

    def __init__(self) -> None:
        self.files_shape = -1
        self.imports: dict[str, set[str]] = {}
        self.importers: dict[str, set[str]] = {}
        self.dirty: set[str] = set()

    def reset(self, files_shape: int, paths: list[str]) -> None:
        self.files_shape, self.imports, self.importers = files_shape, {}, {}
        self.dirty = set(paths)

    def set(self, path: str, targets: set[str]) -> None:
        for old in self.imports.pop(path, set()) - targets:
            self.importers.get(old, set()).discard(path)
        if targets:
            self.imports[path] = targets
        for target in targets:
            self.importers.setdefault(target, set()).add(path)
