"""The server object as the features see it: ``ls: Server`` in every feature function.

The state a feature keeps between messages is an attribute declared here and made by the server
(``GemmaLanguageServer``), never a module global or an attribute a feature adds on the fly: one
place says what a server holds, and a test checks that the server has all of it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from lsprotocol import types
from pygls.progress import Progress
from pygls.workspace import Workspace

if TYPE_CHECKING:
    from lsp_server.actions.change import ChangeProposal
    from lsp_server.actions.hover import ExplanationCache
    from lsp_server.assistant import Assistant
    from lsp_server.features.on_save import SavedTexts
    from lsp_server.features.prefill import PrefillQueue
    from lsp_server.model.backend import CancelToken
    from lsp_server.protocol import GemmaProtocol


class Server(Protocol):
    assistant: Assistant
    hover_cache: ExplanationCache
    """Hover explanations by the content of the code, and the generations in flight."""
    saved_texts: SavedTexts
    """Per document: the text at the last save, and the pending (debounced) save."""
    prefill_queue: PrefillQueue
    """The opened file whose shared context is prefilled next (features/prefill.py)."""
    last_changes: dict[str, ChangeProposal]
    """Per document: the last Change... proposal offered, which a follow-up instruction refines."""
    last_context_tokens: int | None
    """The workspace context the last action packed into its prompt (``gemma/status`` shows it);
    a result carries its own manifest."""
    last_prompt_tokens: int | None
    """The last model request's prompt length in the model's own tokens (None before one is read)."""
    announced_destinations: set[str]
    """Where code goes (or was refused to go), each said to the user once per process."""
    stream_ids: Iterator[int]
    """Numbers for the ``gemma/stream`` ids, unique in this process."""

    @property
    def workspace(self) -> Workspace: ...

    @property
    def protocol(self) -> GemmaProtocol: ...

    @property
    def client_capabilities(self) -> types.ClientCapabilities: ...

    @property
    def work_done_progress(self) -> Progress: ...

    @property
    def converter(self) -> Any: ...

    def run_in_background(self, work: Coroutine) -> asyncio.Task: ...

    def cancel_token_for_request(self) -> CancelToken: ...

    def version_at_request(self, uri: str) -> int | None: ...

    def running_requests(self) -> int: ...

    def show_problem(self, message: str, kind: types.MessageType = types.MessageType.Error) -> None: ...

    def window_show_message(self, params: types.ShowMessageParams) -> None: ...

    def window_log_message(self, params: types.LogMessageParams) -> None: ...

    async def window_show_document_async(self, params: types.ShowDocumentParams) -> types.ShowDocumentResult: ...

    async def workspace_apply_edit_async(self, params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult: ...

    async def workspace_configuration_async(self, params: types.ConfigurationParams) -> list[Any]: ...
