"""Prefill, in the background, the context every question about an opened file shares.

In a long window the context starts with code ranked for the whole current file
(context/pack.py), the same for every function in it. When a Python file is opened, once the
index is built and the model loaded (indexing.warm_up), that part of Explain's prompt is
prefilled with a checkpoint at its end, so the first question about any function of the file
reuses it instead of waiting for a cold prefill (a minute at 100K tokens on an H100). One file at
a time, the last opened first; a remote backend skips it. A question asked meanwhile waits for
the prefill in the model's queue, and then reuses what it prefilled.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from lsp_server.features import documents
from lsp_server.features.server_api import Server
from lsp_server.index.python_symbols import parse_python
from lsp_server.model.backend import CancelToken
from lsp_server.pipeline import explain as explain_pipeline
from lsp_server.pipeline.run import Ask

log = logging.getLogger(__name__)


@dataclass
class PrefillQueue:
    wanted: str | None = None
    """The last opened file not prefilled yet (a URI)."""
    ready: bool = False
    """The index is built and the model warm: prefilling now takes nothing from a request."""
    running: bool = False


def opened(ls: Server, uri: str) -> None:
    """didOpen: prefill this file's shared context next."""
    if uri.endswith((".py", ".pyi")):
        ls.prefill_queue.wanted = uri
        _drain_soon(ls)


def start(ls: Server) -> None:
    """After the warm-up: prefill the last opened file's shared context, and each one opened later."""
    ls.prefill_queue.ready = ls.assistant.settings.model.warm_up
    _drain_soon(ls)


def _drain_soon(ls: Server) -> None:
    queue = ls.prefill_queue
    if queue.ready and queue.wanted and not queue.running:
        queue.running = True
        ls.run_in_background(_drain(ls))


async def _drain(ls: Server) -> None:
    queue = ls.prefill_queue
    try:
        while queue.wanted:
            uri, queue.wanted = queue.wanted, None
            await asyncio.to_thread(prefill_file, ls, uri)
    finally:
        queue.running = False


def prefill_file(ls: Server, uri: str) -> None:
    """Prefill the shared context of the open document ``uri`` (at its first definition: the
    shared part is the same at any). Failures are only logged: a question reports its own."""
    document = ls.workspace.text_documents.get(uri)
    if document is None or not document.path:
        return
    point = first_definition(document.source)
    if point is None:
        return
    path = documents.document_path(document)
    ask = Ask(path, document.source, point, point, documents.workspace_roots(ls.workspace),
              documents.read_from_workspace(ls.workspace))
    try:
        done = explain_pipeline.prefill_shared(ls.assistant, ask, CancelToken())
    except Exception as exc:
        log.info("Prefill of %s's shared context skipped: %s", path.name, exc)
        return
    if done is not None and done.prompt_tokens:
        log.info("Prefilled the context %s's functions share: %d tokens (%d already cached) in %.1f s",
                 path.name, done.prompt_tokens, done.cached_tokens, done.prefill_seconds)


def first_definition(text: str) -> tuple[int, int] | None:
    """(line, column) of the first top-level function or class (its first decorator), or None."""
    top = [d for d in parse_python(text).definitions if d.kind in ("function", "class") and "." not in d.qualname]
    return (min(d.start_line for d in top), 0) if top else None
