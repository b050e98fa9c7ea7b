"""Read and parse files into facts, in this process or spread over worker processes.

Workers are started with "spawn": forking a server that runs threads is unsafe, and spawned
workers import only what parsing needs. Small batches stay in-process, where starting workers
would cost more than it saves.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
from contextlib import contextmanager
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

from lsp_server.index.cache import CachedFile, pack
from lsp_server.index.discovery import FoundFile
from lsp_server.index.facts import FileFacts, extract_facts
from lsp_server.index.modules import ModuleNamer

log = logging.getLogger(__name__)

BINARY_PROBE = 8192


@dataclass(frozen=True)
class ParseFailure:
    path: str
    reason: str



def decode_source(data: bytes) -> str | None:
    """The text of a source file, or None when it is binary or not UTF-8."""
    if b"\0" in data[:BINARY_PROBE]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def parse_file(path: str, size: int, mtime_ns: int) -> FileFacts | ParseFailure:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        return ParseFailure(path, f"cannot read ({exc.__class__.__name__})")
    if b"\0" in data[:BINARY_PROBE]:
        return ParseFailure(path, "binary")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return ParseFailure(path, "not UTF-8")
    return extract_facts(path, data, size, mtime_ns)


def parse_batch(batch: list[tuple[str, int, int]], namer: ModuleNamer | None = None) -> list[CachedFile | ParseFailure]:
    """Facts come back pickled, as the cache keeps them: the process that builds the index stores
    the bytes and unpickles a file's facts only when a request reads them. With ``namer``, each
    entry carries the module names of its file, worked out here rather than in the server."""
    results = []
    with _collector_paused():
        for item in batch:
            result = parse_file(*item)
            results.append(result if isinstance(result, ParseFailure) else pack(result, None if namer is None else tuple(namer.names(result.path))))
    return results


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Reading a file makes tens of thousands of short-lived objects and no reference cycles; the
    cycle collector would walk the process's whole heap again and again meanwhile."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def parse_all(
    files: list[FoundFile],
    workers: int,
    should_stop: Callable[[], bool] = lambda: False,
    batch_size: int = 48,
    namer: ModuleNamer | None = None,
) -> Iterator[list[CachedFile | ParseFailure]]:
    """Parse ``files``, yielding results batch by batch as they finish; stops early when asked."""
    batches = _batches(files, batch_size)
    if workers <= 1 or len(files) < batch_size * 4:
        for batch in batches:
            if should_stop():
                return
            yield parse_batch(batch, namer)
        return
    finished: set[int] = set()
    try:
        for number, results in _parse_in_pool(batches, workers, should_stop, namer):
            finished.add(number)
            yield results
    except (BrokenProcessPool, OSError) as exc:  # e.g. a host script without a __main__ guard
        log.warning("parsing in worker processes failed (%s); going on in this process", exc)
        for number, batch in enumerate(batches):
            if number not in finished and not should_stop():
                yield parse_batch(batch, namer)


def _parse_in_pool(batches: list, workers: int, should_stop: Callable[[], bool], namer: ModuleNamer | None) -> Iterator[tuple[int, list]]:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        pending: dict[Future, int] = {}
        queue = iter(enumerate(batches))
        for number, batch in _take(queue, workers * 2):
            pending[pool.submit(parse_batch, batch, namer)] = number
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            if should_stop():
                for future in pending:
                    future.cancel()
                return
            for future in done:
                yield pending.pop(future), future.result()
                for number, batch in _take(queue, 1):
                    pending[pool.submit(parse_batch, batch, namer)] = number


def _take(iterator: Iterator, count: int) -> list:
    return [item for _, item in zip(range(count), iterator)]


def _batches(files: Iterable[FoundFile], size: int) -> list[list[tuple[str, int, int]]]:
    items = [(f.name, f.size, f.mtime_ns) for f in files]
    return [items[i : i + size] for i in range(0, len(items), size)]


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))
