"""The workspace index over LSP: a background build with ``$/progress``, and keeping it current.

Serves ``initialized`` (starts the build), ``textDocument/didOpen|didChange|didClose`` and
``workspace/didChangeWatchedFiles`` when a client sends it; a watchdog observer follows the rest.
The build runs on a worker thread and never blocks requests: actions asked before it ends use
what is indexed so far. ``$/progress`` is sent only to clients that advertise
``window.workDoneProgress``; cancelling it stops the build where it is.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from pathlib import Path

from lsprotocol import types
from pygls.uris import to_fs_path

from lsp_server.features import documents, prefill
from lsp_server.features.capabilities import work_done_progress_supported
from lsp_server.features.server_api import Server
from lsp_server.index.git_facts import GitFacts
from lsp_server.index.watch import watch

log = logging.getLogger(__name__)
REPORT_SECONDS = 0.2


class _Progress:
    """``$/progress`` for one build, throttled; a no-op for clients without workDoneProgress."""

    def __init__(self, ls: Server, cancel: threading.Event) -> None:
        self._ls, self._cancel, self._token, self._last = ls, cancel, None, 0.0

    async def begin(self) -> None:
        if not work_done_progress_supported(self._ls.client_capabilities):
            return
        token = f"gemma-index-{uuid.uuid4()}"
        try:
            await self._ls.work_done_progress.create_async(token)
        except Exception as exc:  # a client that refuses progress still gets its index
            log.info("no progress for indexing: %s", exc)
            return
        self._token = token
        self._ls.work_done_progress.begin(token, types.WorkDoneProgressBegin(title="Indexing the workspace", cancellable=True, percentage=0))
        future = self._ls.work_done_progress.tokens.get(token)
        if future is not None:
            future.add_done_callback(lambda f: f.cancelled() and self._cancel.set())

    def report(self, done: int, total: int) -> None:
        if self._token is None or (time.monotonic() - self._last < REPORT_SECONDS and done < total):
            return
        self._last = time.monotonic()
        percentage = int(100 * done / total) if total else 100
        self._ls.work_done_progress.report(self._token, types.WorkDoneProgressReport(message=f"{done}/{total} files", percentage=percentage))

    def end(self, message: str) -> None:
        if self._token is not None:
            self._ls.work_done_progress.end(self._token, types.WorkDoneProgressEnd(message=message))


async def start(ls: Server) -> None:
    """Begin indexing the workspace folders in the background (returns at once)."""
    roots = documents.workspace_roots(ls.workspace)
    if not roots:
        return
    ls.run_in_background(_build(ls, roots))


async def _build(ls: Server, roots) -> None:
    index = ls.assistant.index_for(roots)
    cancel = threading.Event()
    progress = _Progress(ls, cancel)
    await progress.begin()
    loop = asyncio.get_running_loop()
    try:
        report = await asyncio.to_thread(index.build, lambda d, t: loop.call_soon_threadsafe(progress.report, d, t), cancel)
    except Exception:
        log.exception("indexing failed; requests use what was indexed")
        progress.end("failed")
        return
    progress.end(f"{report.files} files, {report.symbols} symbols in {report.seconds:.1f} s" + (" (cancelled)" if report.cancelled else ""))
    log.info("indexed %d files (%d from cache) in %.2f s", report.files, report.from_cache, report.seconds)
    settings = ls.assistant.settings.index
    if settings.git:
        ls.assistant.git = await asyncio.to_thread(GitFacts.open, roots[0])
    if ls.assistant.settings.model.warm_up:
        await warm_up(ls)
        prefill.start(ls)
    if settings.watch:
        # watchdog rather than registering workspace/didChangeWatchedFiles: not every client
        # handles client/registerCapability, and a watcher here covers them all alike.
        ls.assistant.watcher = watch(roots, index.refresh)


async def warm_up(ls: Server) -> None:
    """Load the model and restore its saved KV state before the user asks (the model worker
    is idle now). A failure is only logged: the first real request reports it to the user."""
    try:
        await asyncio.to_thread(ls.assistant.backend.load)
    except Exception as exc:
        log.info("model warm-up skipped: %s", exc)


def document_opened(ls: Server, uri: str) -> None:
    _index_document(ls, uri, edited=False)


def document_edited(ls: Server, uri: str) -> None:
    _index_document(ls, uri, edited=True)


def _index_document(ls: Server, uri: str, edited: bool) -> None:
    """didOpen / didChange: index the editor's text, which pygls has updated."""
    index, document = ls.assistant.index, ls.workspace.get_text_document(uri)
    if index is not None and document.path and document.path.endswith((".py", ".pyi")):
        index.update_text(documents.document_path(document), document.source, edited=edited)


def document_closed(ls: Server, uri: str) -> None:
    path = to_fs_path(uri)
    if ls.assistant.index is not None and path:
        ls.assistant.index.close_document(Path(path))


def watched_files_changed(ls: Server, params: types.DidChangeWatchedFilesParams) -> None:
    index = ls.assistant.index
    for change in params.changes if index is not None else ():
        path = to_fs_path(change.uri)
        if path and path.endswith((".py", ".pyi")):
            index.refresh(Path(path))
