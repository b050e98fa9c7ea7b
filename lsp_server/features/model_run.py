"""Run one assistant action's prompt on the model over LSP: context, streaming, cancellation."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Callable

from lsprotocol import types
from pygls.workspace import TextDocument

from lsp_server.context.pack import PackedContext
from lsp_server.errors import GenerationCancelled
from lsp_server.features import documents
from lsp_server.features.server_api import Server
from lsp_server.features.stream import Streamer
from lsp_server.model.backend import CancelToken, Generation, GenerationRequest, RunOptions
from lsp_server.model.thinking import CUT_OFF_NOTE, wants_thinking, with_thinking

MakeRequest = Callable[[PackedContext, str], GenerationRequest]
"""(packed context, prompt style "chat" | "completion") -> the request."""


@dataclass
class ModelRun:
    document: TextDocument
    version: int | None
    """The document's version when the run started: an edit for a later version is stale."""
    packed: PackedContext
    generation: Generation


async def run_model(ls: Server, uri: str, rng: types.Range, cancel: CancelToken, title: str, make_request: MakeRequest, action: str = "") -> ModelRun:
    version = ls.version_at_request(uri)
    document = documents.refuse_if_changed(ls.workspace, uri, version)  # a range for older text
    start, end = documents.server_range(document, rng)
    # Ranking reads the index (thread-safe) and can take a while on a large workspace.
    packed = await asyncio.to_thread(
        ls.assistant.explain_context,
        documents.document_path(document),
        document.source,
        start,
        end,
        documents.workspace_roots(ls.workspace),
        documents.read_from_workspace(ls.workspace),
    )
    streamer = Streamer(ls, f"{title} {packed.target.name}", uri, cancel)
    await streamer.begin()
    try:
        info = await asyncio.to_thread(ls.assistant.backend.load)
        # A stable cache key per workspace lets a team server keep this workspace's prefix warm.
        workspace = documents.workspace_root(ls.workspace, packed.target.path)
        request = make_request(packed, info.prompt_style)
        # A refactor's answer copies most of the code it shows: prompt-lookup decoding pays there.
        options = RunOptions(cache_key=str(workspace), speculative=action == "refactor", on_prefill=streamer.on_prefill)
        model = ls.assistant.settings.model
        thinks = wants_thinking(model.thinking, action, info.supports_thinking)
        request = with_thinking(request, thinks, model.thinking_max_tokens, streamer.on_thought)
        generation = await asyncio.wrap_future(ls.assistant.backend.submit(request, streamer.on_text, cancel, options))
    except (asyncio.CancelledError, GenerationCancelled):
        cancel.cancel()
        streamer.end("cancelled")
        raise
    except Exception:
        streamer.end("failed")
        raise
    streamer.end(f"{generation.completion_tokens} tokens")
    if generation.thought_cut_off and not generation.text.strip():
        ls.window_show_message(types.ShowMessageParams(type=types.MessageType.Warning, message=f"{title} {packed.target.name}: {CUT_OFF_NOTE}"))
    ls.last_manifest = packed.manifest
    return ModelRun(document, version, packed, generation)

