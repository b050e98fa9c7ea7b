"""Run an action's pipeline (lsp_server/pipeline/) for an LSP request.

The pipeline runs on a worker thread; here it gets the editor's text, a progress report and the
``gemma/stream`` of its answer (stream.py), the request's cancellation, and ContentModified when
the document changes while it runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from lsprotocol import types

from lsp_server.errors import GenerationCancelled
from lsp_server.features import documents
from lsp_server.features.server_api import Server
from lsp_server.features.status import context_tokens
from lsp_server.features.stream import Streamer
from lsp_server.model.backend import CancelToken
from lsp_server.model.thinking import CUT_OFF_NOTE
from lsp_server.pipeline.run import Ask, Prepared, Watch

P = TypeVar("P", bound=Prepared)
R = TypeVar("R")


def ask_for(ls: Server, uri: str, rng: types.Range) -> tuple[Ask, int | None]:
    """What the request asks about, and the document's version it refers to (ContentModified when
    the user typed since: the range would point into other text)."""
    version = ls.version_at_request(uri)
    document = documents.refuse_if_changed(ls.workspace, uri, version)
    start, end = documents.server_range(document, rng)
    path = documents.document_path(document)
    ask = Ask(path, document.source, start, end, documents.workspace_roots(ls.workspace), documents.read_from_workspace(ls.workspace))
    return ask, version


async def run_action(ls: Server, uri: str, version: int | None, title: str, prepared: P, run: Callable[[P, Watch, CancelToken], R], cancel: CancelToken) -> R:
    """``run(prepared, watch, cancel)`` on a worker thread, shown as ``title`` and streamed."""
    streamer = Streamer(ls, f"{title} {prepared.packed.target.name}", uri, cancel)
    await streamer.begin()
    watch = Watch(
        on_text=streamer.on_text, on_thought=streamer.on_thought, on_prefill=streamer.on_prefill, on_stage=streamer.stage,
        still_current=lambda: documents.refuse_if_changed(ls.workspace, uri, version, "the model worked"),
    )
    try:
        result = await asyncio.to_thread(run, prepared, watch, cancel)
    except (asyncio.CancelledError, GenerationCancelled):
        cancel.cancel()
        streamer.end("cancelled")
        raise
    except Exception:
        streamer.end("failed")
        raise
    generation = result.generation
    refused = getattr(result, "refused", None)  # an edit that failed verification
    streamer.end(refused.reason if refused else f"{generation.completion_tokens} tokens", "rejected" if refused else None)
    if generation.thought_cut_off and not generation.text.strip():
        ls.window_show_message(types.ShowMessageParams(type=types.MessageType.Warning, message=f"{streamer.title}: {CUT_OFF_NOTE}"))
    ls.last_context_tokens = context_tokens(prepared.manifest)
    return result
