"""What the CLI and the server share: settings, the model backend, and each action's pipeline.

No pygls here: the server's features call these plain functions and translate to LSP and back.
"""

from __future__ import annotations

import dataclasses
import logging
from concurrent.futures import Future
from pathlib import Path

from lsp_server.actions import explain
from lsp_server.config import Settings
from lsp_server.context.build import build_context, read_file
from lsp_server.context.imports import ReadText
from lsp_server.context.pack import PackedContext
from lsp_server.errors import GemmaLspError
from lsp_server.model.backend import Backend, CancelToken, OnText
from lsp_server.model.fit import answer_budget
from lsp_server.model.llama_backend import LlamaCppBackend
from lsp_server.privacy.egress import Destination, check_destination
from lsp_server.privacy.secrets import root_of

log = logging.getLogger(__name__)

PROMPT_OVERHEAD_TOKENS = 400
"""Room kept for the instructions and examples around the packed context."""


class RemoteConfigMissing(GemmaLspError):
    """The remote backend was chosen but its optional dependency is not installed."""


def make_backend(settings: Settings) -> Backend:
    """The in-process model by default; the team server when ``backend`` is ``openai``."""
    if settings.backend == "openai":
        try:
            from lsp_server.model.openai_backend import OpenAIBackend
        except ImportError as exc:
            raise RemoteConfigMissing(
                f"backend openai needs the HTTP client httpx ({exc}): pip install 'gemma-lsp[team-server]'."
            ) from exc
        return OpenAIBackend(settings.remote, settings.model)
    return LlamaCppBackend(settings.model)


def destination(settings: Settings) -> Destination | None:
    """Where prompts go: None for the in-process model; RemoteNotAllowed for a refused host."""
    if settings.backend != "openai":
        return None
    return check_destination(settings.remote.url, settings.remote.allowed_hosts)


class Assistant:
    def __init__(self, settings: Settings | None = None, backend_factory=make_backend) -> None:
        self.settings = settings or Settings()
        self._backend_factory = backend_factory
        self._backend: Backend | None = None
        self._roots: list[Path] = []

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            self._backend = self._backend_factory(self.settings)
        return self._backend

    def update_settings(self, settings: Settings) -> None:
        """Apply new settings; a changed model, backend or remote section reloads on next use."""
        sections = ("model", "backend", "remote")
        changed = any(getattr(settings, name) != getattr(self.settings, name) for name in sections)
        self.settings = settings
        if changed and self._backend is not None:
            old, self._backend = self._backend, None
            old.close()

    def context_budget(self) -> int:
        model = self.settings.model
        return max(256, model.n_ctx - answer_budget(model.n_ctx, model.max_tokens) - PROMPT_OVERHEAD_TOKENS)

    def explain_context(
        self,
        path: Path,
        text: str,
        start: tuple[int, int],
        end: tuple[int, int],
        roots: list[Path],
        read_text: ReadText = read_file,
    ) -> PackedContext:
        self._roots = roots
        return build_context(path, text, start, end, roots, read_text, self.context_budget())

    def start_explain(self, packed: PackedContext, on_text: OnText, cancel: CancelToken) -> Future[explain.Explanation]:
        """Run Explain on the backend's worker; the model must be loaded (``backend.load()``)."""
        info = self.backend.load()
        model = self.settings.model
        request = explain.build_request(packed, info.prompt_style, model.max_tokens, model.temperature)
        workspace = root_of(packed.target.path, self._roots)
        request = dataclasses.replace(request, cache_key=str(workspace))
        generation = self.backend.submit(request, on_text, cancel)
        result: Future[explain.Explanation] = Future()

        def finish(done: Future) -> None:
            if done.cancelled():
                result.cancel()
            elif done.exception() is not None:
                result.set_exception(done.exception())
            else:
                gen = done.result()
                result.set_result(explain.Explanation(packed.target, explain.clean_answer(gen.text), gen))

        generation.add_done_callback(finish)
        return result

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()
            self._backend = None
