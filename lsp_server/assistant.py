"""What the CLI and the server share: settings, the model backend, the index and the context.

No pygls here; each action's pipeline (lsp_server/pipeline/) runs on an Assistant.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from lsp_server.config import Settings
from lsp_server.context.build import build_context, read_file
from lsp_server.context.imports import ReadText
from lsp_server.context.mentions import named_in
from lsp_server.context.pack import PackedContext
from lsp_server.context.rank import Ranked
from lsp_server.context.resolve import Resolver
from lsp_server.errors import GemmaLspError
from lsp_server.index.discovery import ExcludePath
from lsp_server.index.git_facts import GitFacts, RecentFiles
from lsp_server.index.workspace import WorkspaceIndex
from lsp_server.model.backend import Backend
from lsp_server.model.fit import answer_budget
from lsp_server.model.llama_backend import LlamaCppBackend
from lsp_server.privacy.egress import Destination, check_destination
from lsp_server.privacy.secrets import is_secret, root_of

log = logging.getLogger(__name__)

PROMPT_OVERHEAD_TOKENS = 400
"""Room kept for the instructions and examples around the packed context."""

INDEX_WAIT_SECONDS = 10.0
"""A request waits for the workspace index being built (opening a project) until this long after
the build started, then packs from what is indexed so far."""


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


PER_REQUEST_FIELDS = {"max_tokens", "temperature", "thinking", "thinking_max_tokens"}
"""Model settings read per request: changing them needs no reload."""


def _load_key(settings: Settings) -> tuple:
    model = dataclasses.asdict(settings.model)
    return (tuple(sorted((k, v) for k, v in model.items() if k not in PER_REQUEST_FIELDS)), settings.backend, settings.remote)


def secret_in(roots: list[Path]) -> ExcludePath:
    """Secret files are never indexed (and so never reach a prompt through ranking)."""
    return lambda path: is_secret(path, root_of(path, roots))


class Assistant:
    def __init__(self, settings: Settings | None = None, backend_factory=make_backend) -> None:
        self.settings = settings or Settings()
        self._backend_factory = backend_factory
        self._backend: Backend | None = None
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
        """Apply new settings; a change that affects loading (model file, context, GPU, backend)
        reloads on next use. Per-request values (max_tokens, temperature) apply at once."""
        changed = _load_key(settings) != _load_key(self.settings)
        self.settings = settings
        if changed and self._backend is not None:
            old, self._backend = self._backend, None
            old.close()

    def index_for(self, roots: list[Path]) -> WorkspaceIndex:
        """The workspace index of ``roots`` (created empty; the server or CLI builds it)."""
        if self.index is None or self.index.roots != [Path(r) for r in roots]:
            self.index = WorkspaceIndex(roots, self.settings.index, exclude_path=self.exclude_path or secret_in(roots))
            self._resolver = Resolver(self.index)
        return self.index

    def context_budget(self) -> int:
        model = self.settings.model
        # A model that may think needs room for its thought too, or the packed context is cut by
        # rule instead of packed to fit (known once loaded; a model that cannot think loses none).
        thinks = self.model_loaded and model.thinking != "off" and self.backend.load().supports_thinking
        answer = model.max_tokens + (model.thinking_max_tokens if thinks else 0)
        return max(256, model.n_ctx - answer_budget(model.n_ctx, answer) - PROMPT_OVERHEAD_TOKENS)

    def explain_context(
        self,
        path: Path,
        text: str,
        start: tuple[int, int],
        end: tuple[int, int],
        roots: list[Path],
        read_text: ReadText = read_file,
        instruction: str = "",
    ) -> PackedContext:
        """The context for ``start..end`` of ``path``; with ``instruction``, what it names
        (symbols, files, configuration) is packed first (context/mentions.py)."""
        index = self.index_for(roots)
        # A context packed from a half-built index is worse, and the next request's (from the whole
        # index) parts from it near the start: in a 100K-token project a second full prefill
        # (tests/benchmarks/RESULTS.md). Indexing takes seconds, that prefill a minute.
        index.wait_for_build(INDEX_WAIT_SECONDS)
        named = [Ranked(m.symbol, m.score, [m.reason], direct=True) for m in named_in(instruction, index)] if instruction else []
        # Exact counts need the tokenizer; loading the model here would block the caller, so the
        # first request packs by estimate and later ones are checked exactly.
        count = self.backend.count_tokens if self.model_loaded else None
        return build_context(
            path, text, start, end, index, self.context_budget(),
            count_tokens=count, settings=self.settings.context, read_text=read_text, resolver=self._resolver,
            recent=self._recent.get(self.git), named=named,
        )

    @property
    def model_loaded(self) -> bool:
        """Whether ``backend.load()`` has run (so it returns at once): the backend says."""
        return self._backend is not None and self._backend.loaded

    def close(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher = None
        if self._backend is not None:
            self._backend.close()
            self._backend = None
