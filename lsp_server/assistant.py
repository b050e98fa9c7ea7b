"""What the CLI and the server share: settings, the model backend, and each action's pipeline.

No pygls here: the server's features call these plain functions and translate to LSP and back.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future
from pathlib import Path

from lsp_server.actions import explain
from lsp_server.config import Settings
from lsp_server.context.build import build_context, read_file
from lsp_server.context.imports import ReadText
from lsp_server.context.pack import PackedContext
from lsp_server.context.resolve import Resolver
from lsp_server.index.discovery import ExcludePath
from lsp_server.index.git_facts import GitFacts, RecentFiles
from lsp_server.index.workspace import WorkspaceIndex
from lsp_server.model.backend import Backend, CancelToken, OnText
from lsp_server.model.fit import answer_budget
from lsp_server.model.llama_backend import LlamaCppBackend

log = logging.getLogger(__name__)

PROMPT_OVERHEAD_TOKENS = 400
"""Room kept for the instructions and examples around the packed context."""


def make_backend(settings: Settings) -> Backend:
    return LlamaCppBackend(settings.model)


class Assistant:
    def __init__(self, settings: Settings | None = None, backend_factory=make_backend) -> None:
        self.settings = settings or Settings()
        self._backend_factory = backend_factory
        self._backend: Backend | None = None
        self._model_loaded = False
        self.index: WorkspaceIndex | None = None
        self._resolver: Resolver | None = None
        self.exclude_path: ExcludePath | None = None
        """Files that must never be indexed nor enter a prompt (the privacy layer plugs in here)."""
        self.git: GitFacts | None = None
        self.watcher = None
        self._recent = RecentFiles()

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            self._backend = self._backend_factory(self.settings)
        return self._backend

    def update_settings(self, settings: Settings) -> None:
        """Apply new settings; a changed model section reloads the model on next use."""
        model_changed = settings.model != self.settings.model
        self.settings = settings
        if model_changed and self._backend is not None:
            old, self._backend = self._backend, None
            self._model_loaded = False
            old.close()

    def index_for(self, roots: list[Path]) -> WorkspaceIndex:
        """The workspace index of ``roots`` (created empty; the server or CLI builds it)."""
        if self.index is None or self.index.roots != [Path(r) for r in roots]:
            self.index = WorkspaceIndex(roots, self.settings.index, exclude_path=self.exclude_path)
            self._resolver = Resolver(self.index)
        return self.index

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
        index = self.index_for(roots)
        # Exact counts need the tokenizer; loading the model here would block the caller, so the
        # first request packs by estimate and later ones are checked exactly.
        count = self.backend.count_tokens if self._model_loaded else None
        return build_context(
            path, text, start, end, index, self.context_budget(),
            count_tokens=count, settings=self.settings.context, read_text=read_text, resolver=self._resolver,
            recent=self._recent.get(self.git),
        )

    def mark_model_loaded(self) -> None:
        """The caller loaded the model (``backend.load()``): pack with exact token counts from now on."""
        self._model_loaded = True

    def start_explain(self, packed: PackedContext, on_text: OnText, cancel: CancelToken) -> Future[explain.Explanation]:
        """Run Explain on the backend's worker; the model must be loaded (``backend.load()``)."""
        info = self.backend.load()
        self._model_loaded = True
        model = self.settings.model
        request = explain.build_request(packed, info.prompt_style, model.max_tokens, model.temperature)
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
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher = None
        if self._backend is not None:
            self._backend.close()
            self._backend = None
            self._model_loaded = False
