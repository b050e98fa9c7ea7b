"""Explain and Explain-as-comment over LSP: run the action, stream it, deliver the result.

Serves codeAction/resolve and the ``gemma-lsp.explain`` / ``gemma-lsp.explainAsComment`` commands.
"""

from __future__ import annotations

import asyncio
import re

from lsprotocol import types

from lsp_server.actions import explain
from lsp_server.errors import GenerationCancelled
from lsp_server.features import documents
from lsp_server.features.capabilities import document_changes_supported, show_document_supported
from lsp_server.features.stream import Streamer
from lsp_server.index.python_symbols import parse_python
from lsp_server.model.backend import CancelToken
from lsp_server.model.resolve import cache_dir

SHOW_MESSAGE_LIMIT = 4000


async def run_explain(ls, uri: str, rng: types.Range, cancel: CancelToken, title: str) -> explain.Explanation:
    """Build the context, run the model with streaming, and return the explanation."""
    document = documents.get_document(ls.workspace, uri)
    start, end = documents.server_range(document, rng)
    packed = ls.assistant.explain_context(
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
        await asyncio.to_thread(ls.assistant.backend.load)
        future = ls.assistant.start_explain(packed, streamer.on_text, cancel)
        result = await asyncio.wrap_future(future)
    except (asyncio.CancelledError, GenerationCancelled):
        cancel.cancel()
        streamer.end("cancelled")
        raise
    except Exception:
        streamer.end("failed")
        raise
    streamer.end(f"{result.generation.completion_tokens} tokens")
    ls.last_manifest = packed.manifest
    return result


async def deliver(ls, result: explain.Explanation) -> None:
    """Show the explanation: a Markdown document when the client can open one, else a message."""
    markdown = explain.as_markdown(result, ls.last_manifest or [])
    if show_document_supported(ls.client_capabilities):
        path = _explanation_file(result)
        path.write_text(markdown, encoding="utf-8")
        shown = await ls.window_show_document_async(types.ShowDocumentParams(uri=path.as_uri(), take_focus=False))
        if shown.success:
            return
    text = result.text or "The model returned no text."
    ls.window_show_message(
        types.ShowMessageParams(type=types.MessageType.Info, message=f"{result.target.name}: {text}"[:SHOW_MESSAGE_LIMIT])
    )


def comment_edit(ls, uri: str, result: explain.Explanation) -> types.WorkspaceEdit | None:
    """A WorkspaceEdit inserting the explanation above the target, or None when it is empty.

    The edit names the document version it was computed for, so a client refuses it if the file
    changed in the meantime; and it is checked to keep the file parseable.
    """
    document = documents.get_document(ls.workspace, uri)
    insertion = explain.comment_insertion(document.source, result.target, result.text)
    if insertion is None:
        return None
    line, text = insertion
    lines = document.source.splitlines(keepends=True)
    after = "".join(lines[:line]) + text + "".join(lines[line:])
    if parse_python(after).has_errors and not parse_python(document.source).has_errors:
        return None
    edit = types.TextEdit(range=types.Range(types.Position(line, 0), types.Position(line, 0)), new_text=text)
    if document_changes_supported(ls.client_capabilities):
        identifier = types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=document.version)
        return types.WorkspaceEdit(document_changes=[types.TextDocumentEdit(text_document=identifier, edits=[edit])])
    return types.WorkspaceEdit(changes={uri: [edit]})


def _explanation_file(result: explain.Explanation):
    folder = cache_dir() / "explanations"
    folder.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{result.target.path.stem}-{result.target.name}")[:100]
    return folder / f"{safe}.md"
