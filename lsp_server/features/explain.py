"""Explain and Explain-as-comment over LSP: run the action, stream it, deliver the result.

Serves codeAction/resolve and the ``gemma-lsp.explain`` / ``gemma-lsp.explainAsComment`` commands.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import re
from pathlib import Path

from lsprotocol import types

from lsp_server.actions import explain
from lsp_server.features import action_run, documents
from lsp_server.features.capabilities import show_document_supported
from lsp_server.features.server_api import Server
from lsp_server.index.python_symbols import parse_python
from lsp_server.model.backend import CancelToken
from lsp_server.model.resolve import cache_dir
from lsp_server.pipeline import explain as explain_pipeline

SHOW_MESSAGE_LIMIT = 4000


async def run_explain(ls: Server, uri: str, rng: types.Range, cancel: CancelToken, title: str) -> explain.Explanation:
    """The Explain pipeline on the editor's text, streamed; its result carries what it packed."""
    ask, version = action_run.ask_for(ls, uri, rng)
    prepared = await asyncio.to_thread(explain_pipeline.prepare, ls.assistant, ask)
    return await action_run.run_action(ls, uri, version, title, prepared, functools.partial(explain_pipeline.run, ls.assistant), cancel)


async def deliver(ls: Server, result: explain.Explanation) -> None:
    """Show the explanation: a Markdown document when the client can open one, else a message."""
    text = result.text or "The model returned no text."
    await show_text(ls, "explain", result.target.path, result.target.name, explain.as_markdown(result), f"{result.target.name}: {text}")


async def show_text(ls: Server, action: str, target_path: Path, name: str, markdown: str, message: str | None = None) -> None:
    """Open ``markdown`` as a document in the cache dir, or show ``message`` (default: the markdown).

    Every action's document follows one scheme: ``<action>-<file>-<name>.md``, in a folder of
    the workspace's own (its folder name and a short hash of its path)."""
    if show_document_supported(ls.client_capabilities):
        path = result_file(documents.workspace_root(ls.workspace, target_path), action, target_path, name)
        path.write_text(markdown, encoding="utf-8")
        shown = await ls.window_show_document_async(types.ShowDocumentParams(uri=path.as_uri(), take_focus=False))
        if shown.success:
            return
    ls.window_show_message(types.ShowMessageParams(type=types.MessageType.Info, message=(message or markdown)[:SHOW_MESSAGE_LIMIT]))


async def explain_as_comment(ls: Server, uri: str, rng: types.Range, cancel: CancelToken) -> types.WorkspaceEdit | None:
    """Run Explain and make its answer a comment edit (None when empty); ContentModified when the
    document changed while the model worked: the target's lines are no longer where they were."""
    version = ls.version_at_request(uri)
    result = await run_explain(ls, uri, rng, cancel, "Explaining (comment)")
    return comment_edit(ls, uri, result, version)


def comment_edit(ls: Server, uri: str, result: explain.Explanation, version: int | None) -> types.WorkspaceEdit | None:
    """A WorkspaceEdit inserting the explanation above the target, or None when it is empty.

    ``version``: the document's version the explanation was asked for; a later one is refused
    with ContentModified. The edit names that version, so a client refuses it too if the file
    changes before it is applied; and it is checked to keep the file parseable.
    """
    document = documents.refuse_if_changed(ls.workspace, uri, version, "the model worked")
    insertion = explain.comment_insertion(document.source, result.target, result.text)
    if insertion is None:
        return None
    line, text = insertion
    lines = document.source.splitlines(keepends=True)
    after = "".join(lines[:line]) + text + "".join(lines[line:])
    if parse_python(after).has_errors and not parse_python(document.source).has_errors:
        return None
    edit = types.TextEdit(range=types.Range(types.Position(line, 0), types.Position(line, 0)), new_text=text)
    return documents.versioned_edit(ls.client_capabilities, document, [edit])


def result_file(root: Path, action: str, target_path: Path, name: str) -> Path:
    """Where the document of ``action`` on ``name`` in ``target_path`` is written (pure but for mkdir)."""
    digest = hashlib.sha1(str(root).encode("utf-8", "surrogatepass")).hexdigest()[:8]
    folder = cache_dir() / "results" / f"{_safe(root.name)}-{digest}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{_safe(f'{action}-{target_path.stem}-{name}')[:100]}.md"


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)
