"""The Backend protocol every model engine implements, and the plain data it speaks."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Callable, Literal, Protocol

from lsp_server.errors import GenerationCancelled


class CancelToken:
    """Cooperative cancellation: the worker checks it between prefill batches and between tokens."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise GenerationCancelled("The request was cancelled.")


@dataclass(frozen=True)
class Message:
    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True)
class GenerationRequest:
    """Either chat ``messages`` or a raw completion ``text`` (few-shot prompts for base models)."""

    messages: tuple[Message, ...] = ()
    text: str | None = None
    max_tokens: int = 256
    temperature: float = 0.2
    stop: tuple[str, ...] = ()
    keep_head_tokens: int = 256
    """When the prompt must be cut, this many leading tokens (instructions, examples) stay."""
    answer_prefix: str = ""
    """Text the answer starts with, written into the prompt (base models follow it far better)
    and given back as the start of the answer."""
    thinking: bool = False
    """Let a model that can think do so before it answers (``model.thinking``)."""
    thinking_tokens: int = 0
    """The most tokens the thought may take, apart from the answer's ``max_tokens``."""
    on_thought: Callable[[str], None] | None = field(default=None, compare=False)
    """Receives the thought as it streams (``on_text`` only ever gets the answer)."""
    seed: int | None = None
    """The sampler's seed; None: the backend's own fixed one (the same prompt, the same answer)."""
    shared_chars: int = 0
    """Leading characters of ``text`` (or of the last message) that other requests' prompts share
    (the context ranked for the file): the in-process model keeps a checkpoint where they end."""


@dataclass(frozen=True)
class RunOptions:
    """How a backend runs a request, apart from what the request asks (the same answer either way)."""

    cache_key: str = ""
    """Names the workspace: a remote server keeps one prompt-cache slot per key."""
    speculative: bool = False
    """The answer copies much of the prompt (an edit of code it shows): guess the next tokens
    from the prompt and check them in one batch (prompt-lookup decoding; same output)."""
    on_prefill: Callable[[int, int], None] | None = field(default=None, compare=False)
    """Called from the model worker with (tokens prefilled, prompt tokens) after each batch."""
    ignore_eog: bool = False
    """Benchmarks only: decode past end-of-generation tokens (random-weight models emit them early)."""
    shared_only: bool = False
    """Prefill only the request's ``shared_chars`` and keep a checkpoint there, no answer: a
    background warm-up for the questions to come (a remote backend skips it)."""


PLAIN = RunOptions()


@dataclass
class Generation:
    text: str
    prompt_tokens: int
    cached_tokens: int
    """Prompt tokens whose KV state was reused from the previous request."""
    completion_tokens: int
    stop_reason: Literal["stop", "eog", "length"]
    prompt_cut_tokens: int = 0
    """Tokens left out of the middle of a prompt that did not fit the context window."""
    prefill_seconds: float = 0.0
    decode_seconds: float = 0.0
    first_token_seconds: float = 0.0
    thought: str = ""
    """What the model thought before its answer (``text`` never holds any of it)."""
    thought_cut_off: bool = False
    """The generation ended inside the thought: there is no answer (thinking.CUT_OFF_NOTE)."""


@dataclass
class ModelInfo:
    path: str
    source: str
    architecture: str
    name: str
    n_ctx: int
    n_ctx_train: int
    n_gpu_layers: int
    gpu_offload_supported: bool
    has_chat_template: bool
    prompt_style: Literal["chat", "completion"]
    size_bytes: int
    extra: dict = field(default_factory=dict)
    supports_thinking: bool = False
    """The model's chat format has a thinking channel (Gemma 4)."""


OnText = Callable[[str], None]


class Backend(Protocol):
    """A model engine. ``submit`` returns at once; the work happens on the backend's own worker."""

    def load(self) -> ModelInfo:
        """Load the model now (blocking) and describe it."""

    @property
    def loaded(self) -> bool:
        """Whether ``load()`` has succeeded (so it returns at once, without blocking)."""

    def count_tokens(self, text: str) -> int:
        """Exact token count with the model's tokenizer."""

    def submit(self, request: GenerationRequest, on_text: OnText, cancel: CancelToken, options: RunOptions = PLAIN) -> Future[Generation]:
        """Generate; ``on_text`` receives each new piece of text from the worker thread."""

    def close(self) -> None:
        """Free the model and stop the worker."""
