"""textDocument/hover: static facts at once, the model's explanation when it is ready in time.

The explanation is cached by content hash; a hover that cannot wait for it leaves the generation
running in the background, so the next hover over the same code has it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from lsprotocol import types

from lsp_server.actions import hover
from lsp_server.errors import GemmaLspError
from lsp_server.features import documents
from lsp_server.features.server_api import Server
from lsp_server.index.git_facts import range_history
from lsp_server.model.backend import CancelToken
from lsp_server.privacy.secrets import is_secret, root_of

log = logging.getLogger(__name__)
T = TypeVar("T")


async def on_hover(ls: Server, params: types.HoverParams) -> types.Hover | None:
    document = documents.get_document(ls.workspace, params.text_document.uri)
    start, _ = documents.server_range(document, types.Range(params.position, params.position))
    roots = documents.workspace_roots(ls.workspace)
    subject = hover.subject_at(documents.document_path(document), document.source, start[0], start[1], roots, documents.read_from_workspace(ls.workspace))
    if subject is None:
        return None
    definition = subject.definition
    # git log -L can take a while
    history = await asyncio.to_thread(range_history, ls.assistant.git, subject.path, definition.start_line, definition.end_line, 3)
    parts = [hover.static_markdown(subject, history)]
    # The facts stay in the editor; the model is asked only about code that is not secret.
    explanation = None if is_secret(subject.path, root_of(subject.path, roots)) else await _explanation(ls, subject)
    if explanation:
        parts.append(f"---\n\n{explanation}")
    return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value="\n\n".join(parts)))


async def _explanation(ls: Server, subject: hover.HoverSubject) -> str | None:
    settings = ls.assistant.settings
    if not settings.hover.explain:
        return None
    wait = settings.hover.wait_seconds
    info = await _in_time(wait, lambda: asyncio.to_thread(ls.assistant.backend.load))
    if info is None:  # no model yet (or none at all): static facts only
        return None
    # The adapters change the answers as much as the model does: a new adapter, a new key.
    key = hover.content_key(subject, f"{info.path}\0{settings.model.lora_path!r}\0{info.extra.get('lora', [])!r}")
    cached = ls.hover_cache.get(key)
    if cached is not None:
        return cached
    future = ls.hover_cache.pending.get(key)
    if future is None:
        future = _start(ls, subject, info.prompt_style, key)
    generation = await _in_time(wait, lambda: asyncio.shield(asyncio.wrap_future(future)))
    return (generation.text.strip() or None) if generation is not None else None


async def _in_time(seconds: float, start: Callable[[], Awaitable[T]]) -> T | None:
    """What ``start()`` gives within ``seconds``; None when it takes longer or the model cannot
    answer (GemmaLspError: no model, a refused host, a failed generation). Anything else is a bug:
    logged, and the hover still shows its static facts."""
    try:
        return await asyncio.wait_for(start(), seconds)
    except (asyncio.TimeoutError, GemmaLspError):
        return None
    except Exception:
        log.exception("the hover explanation failed")
        return None


def _start(ls: Server, subject: hover.HoverSubject, style: str, key: str):
    settings = ls.assistant.settings
    request = hover.hover_request(subject, style, settings.hover.max_tokens, settings.model.temperature)
    generation = ls.assistant.backend.submit(request, lambda _piece: None, CancelToken())
    ls.hover_cache.pending[key] = generation

    def store(done) -> None:
        ls.hover_cache.pending.pop(key, None)
        if not done.cancelled() and done.exception() is None and done.result().text.strip():
            ls.hover_cache.put(key, done.result().text.strip())

    generation.add_done_callback(store)
    return generation

