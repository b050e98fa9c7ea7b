"""The language server: wires the features to LSP methods, isolates their failures.

Every request handler is async (cancellable at each await); the model runs on the backend's
worker thread. Errors the user can act on (GemmaLspError) become one clear message and a JSON-RPC
error; the server keeps serving.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
from collections.abc import Callable, Coroutine, Iterable

from lsprotocol import types
from pygls.exceptions import FeatureNotificationError, JsonRpcException, JsonRpcInvalidParams, JsonRpcRequestCancelled
from pygls.lsp.server import LanguageServer

from lsp_server import __version__
from lsp_server.assistant import Assistant
from lsp_server.errors import DocumentNotFound, GemmaLspError, GenerationCancelled, InvalidRequest, PositionOutOfRange
from lsp_server.actions.change import ChangeProposal
from lsp_server.actions.hover import ExplanationCache
from lsp_server.features import code_actions, commands, hover, indexing, on_save, prefill, settings, status
from lsp_server.features.logs import ClientLogHandler
from lsp_server.model.backend import CancelToken
from lsp_server.protocol import GemmaProtocol

log = logging.getLogger(__name__)
REQUEST_FAILED = -32803  # LSP RequestFailed: valid request, but it could not be done


class GemmaLanguageServer(LanguageServer):
    def __init__(self, assistant: Assistant | None = None) -> None:
        super().__init__("gemma-lsp", __version__, protocol_cls=GemmaProtocol)
        self.assistant = assistant or Assistant()
        self.last_context_tokens: int | None = None
        self.last_prompt_tokens: int | None = None
        self._cancel_tokens: dict[object, CancelToken] = {}
        self.log_handler = ClientLogHandler(self)
        self.hover_cache = ExplanationCache()
        self.saved_texts = on_save.SavedTexts()
        self.prefill_queue = prefill.PrefillQueue()
        self.last_changes: dict[str, ChangeProposal] = {}
        self.announced_destinations: set[str] = set()
        self.stream_ids = itertools.count(1)
        self._background: set[asyncio.Task] = set()

    @property
    def converter(self):
        return self.protocol._converter

    def run_in_background(self, work: Coroutine) -> asyncio.Task:
        """Run ``work`` as a task held until it ends (the event loop holds tasks only weakly)."""
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    def cancel_token_for_request(self) -> CancelToken:
        """A token set when the current request is cancelled ($/cancelRequest)."""
        token = CancelToken()
        msg_id = self.protocol.msg_id
        if msg_id is not None:
            self._cancel_tokens[msg_id] = token
        return token

    def version_at_request(self, uri: str) -> int | None:
        """The version ``uri`` had when the current request arrived (the text its range refers
        to); the current version outside a request."""
        snapshot = self.protocol.versions_at_arrival.get(self.protocol.msg_id) or {}
        if uri in snapshot:
            return snapshot[uri]
        document = self.workspace.text_documents.get(uri)
        return document.version if document is not None else None

    def cancel_request(self, msg_id) -> None:
        token = self._cancel_tokens.pop(msg_id, None)
        if token is not None:
            token.cancel()

    def running_requests(self) -> int:
        """Model requests in flight: each holds a cancel token until it ends."""
        return len(self._cancel_tokens)

    def forget_request(self) -> None:
        self._cancel_tokens.pop(self.protocol.msg_id, None)

    def show_problem(self, message: str, kind: types.MessageType = types.MessageType.Error) -> None:
        log.warning("%s", message)
        self.window_show_message(types.ShowMessageParams(type=kind, message=message))


def fan_out(ls: GemmaLanguageServer, event: str, handlers: Iterable[Callable[..., None]], *args) -> None:
    """Pass a notification to each feature's handler. One that raises is logged and shown as
    pygls shows a failed notification; the features after it still get the notification."""
    for handler in handlers:
        try:
            handler(ls, *args)
        except Exception as exc:
            log.exception("%s failed in %s.%s; the other features went on", event, handler.__module__, handler.__qualname__)
            ls.report_server_error(exc, FeatureNotificationError)


def user_errors(show: bool):
    """Turn the errors users can act on into JSON-RPC errors (and a message when ``show``)."""

    def wrap(handler):
        @functools.wraps(handler)
        async def run(ls: GemmaLanguageServer, *args):
            try:
                return await handler(ls, *args)
            except GenerationCancelled as exc:
                raise JsonRpcRequestCancelled(str(exc)) from exc
            except (PositionOutOfRange, DocumentNotFound, InvalidRequest) as exc:
                if show:
                    ls.show_problem(str(exc))
                raise JsonRpcInvalidParams(str(exc)) from exc
            except GemmaLspError as exc:
                if show:
                    ls.show_problem(str(exc))
                raise JsonRpcException(str(exc), code=REQUEST_FAILED) from exc
            finally:
                ls.forget_request()

        return run

    return wrap


def create_server(assistant: Assistant | None = None) -> GemmaLanguageServer:
    server = GemmaLanguageServer(assistant)

    @server.feature(types.INITIALIZE)
    def initialize(ls: GemmaLanguageServer, params: types.InitializeParams) -> None:
        settings.from_initialize(ls, params)

    @server.feature(types.INITIALIZED)
    async def initialized(ls: GemmaLanguageServer, params: types.InitializedParams) -> None:
        ls.log_handler.attach(asyncio.get_running_loop())
        server_log = logging.getLogger("lsp_server")
        server_log.addHandler(ls.log_handler)
        server_log.propagate = False  # the client's log has them; stderr would show them as errors
        await settings.pull(ls)
        await indexing.start(ls)

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: GemmaLanguageServer, params: types.DidOpenTextDocumentParams) -> None:
        fan_out(ls, "didOpen", (indexing.document_opened, on_save.opened, prefill.opened), params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: GemmaLanguageServer, params: types.DidChangeTextDocumentParams) -> None:
        fan_out(ls, "didChange", (indexing.document_edited,), params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: GemmaLanguageServer, params: types.DidCloseTextDocumentParams) -> None:
        fan_out(ls, "didClose", (indexing.document_closed, on_save.closed), params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: GemmaLanguageServer, params: types.DidSaveTextDocumentParams) -> None:
        fan_out(ls, "didSave", (on_save.saved,), params.text_document.uri)

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def did_change_watched_files(ls: GemmaLanguageServer, params: types.DidChangeWatchedFilesParams) -> None:
        indexing.watched_files_changed(ls, params)

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(ls: GemmaLanguageServer, params: types.DidChangeConfigurationParams) -> None:
        await settings.on_change(ls, params)

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(
            code_action_kinds=code_actions.KIND_VALUES, resolve_provider=True
        ),
    )
    @user_errors(show=False)
    async def code_action(ls: GemmaLanguageServer, params: types.CodeActionParams):
        return code_actions.offer(ls, params)

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    @user_errors(show=False)
    async def on_hover(ls: GemmaLanguageServer, params: types.HoverParams):
        return await hover.on_hover(ls, params)

    @server.feature(types.CODE_ACTION_RESOLVE)
    @user_errors(show=True)
    async def code_action_resolve(ls: GemmaLanguageServer, action: types.CodeAction):
        return await code_actions.resolve(ls, action)

    @server.command(code_actions.COMMANDS["explain"])
    @user_errors(show=True)
    async def explain_command(ls: GemmaLanguageServer, uri: str, rng: types.Range):
        return await commands.explain_command(ls, uri, rng)

    @server.command(code_actions.COMMANDS["explain_as_comment"])
    @user_errors(show=True)
    async def explain_as_comment_command(ls: GemmaLanguageServer, uri: str, rng: types.Range):
        return await commands.explain_as_comment_command(ls, uri, rng)

    @server.command(code_actions.COMMANDS["refactor"])
    @user_errors(show=True)
    async def refactor_command(ls: GemmaLanguageServer, uri: str, rng: types.Range, *instruction: str):
        return await commands.edit_command(ls, "refactor", uri, rng, instruction[0] if instruction else None)

    @server.command(code_actions.COMMANDS["generate_tests"])
    @user_errors(show=True)
    async def generate_tests_command(ls: GemmaLanguageServer, uri: str, rng: types.Range):
        return await commands.edit_command(ls, "generate_tests", uri, rng)

    @server.command(code_actions.COMMANDS["implement"])
    @user_errors(show=True)
    async def implement_command(ls: GemmaLanguageServer, uri: str, rng: types.Range):
        return await commands.edit_command(ls, "implement", uri, rng)

    @server.command(code_actions.COMMANDS["fix_test"])
    @user_errors(show=True)
    async def fix_test_command(ls: GemmaLanguageServer, uri: str, rng: types.Range):
        return await commands.fix_test_command(ls, uri, rng)

    @server.command(code_actions.COMMANDS["change"])
    @user_errors(show=True)
    async def change_command(ls: GemmaLanguageServer, uri: str, rng: types.Range, *rest):
        return await commands.change_command(ls, uri, rng, *rest[:2])

    @server.feature(status.STATUS_REQUEST)
    def gemma_status(ls: GemmaLanguageServer, *args) -> dict:
        return status.status(ls)

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: GemmaLanguageServer, *args) -> None:
        ls.assistant.close()

    return server
