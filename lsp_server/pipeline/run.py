"""What every action's pipeline shares: what it is asked about, how a caller watches it, and the
model step (load, build the request, think or not, generate)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from lsp_server.actions import outcome
from lsp_server.assistant import Assistant
from lsp_server.context.build import read_file
from lsp_server.context.imports import ReadText
from lsp_server.context.pack import PackedContext
from lsp_server.model.backend import (
    CancelToken,
    Generation,
    GenerationRequest,
    OnText,
    RunOptions,
)
from lsp_server.model.thinking import wants_thinking, with_thinking
from lsp_server.privacy.secrets import root_of
from lsp_server.verify.verifier import Verification

Point = tuple[int, int]
"""(line, column), 0-based; the column counts code points."""


def _ignore(*_args) -> None:
    return None


@dataclass(frozen=True)
class Ask:
    """What an action is asked about: a range of a document's text (the editor's, unsaved
    included), in the workspace ``roots``."""

    path: Path
    text: str
    start: Point
    end: Point
    roots: list[Path]
    read_text: ReadText = read_file
    """How the context reads other files (the server: the editor's text first, secrets never)."""

    @property
    def root(self) -> Path:
        return root_of(self.path, self.roots)


@dataclass
class Watch:
    """How a caller follows a run. Every callback may be called from a worker thread."""

    on_text: OnText = _ignore
    on_thought: OnText | None = None
    on_prefill: Callable[[int, int], None] | None = None
    """(prompt tokens read, of how many) after each prefill batch."""
    on_stage: Callable[[str], None] = _ignore
    """What the run does now, in a few words: "loading the model", "verifying: running 3 tests"."""
    still_current: Callable[[], None] = _ignore
    """Raises when what the action was asked about changed (the server: ContentModified); called
    before each costly step, so no work is spent on a stale request."""


RequestFor = Callable[[str], GenerationRequest]
"""The prompt style ("chat" | "completion") -> the request."""


@dataclass(frozen=True)
class Prepared:
    """An action ready to run: the context as the prompt holds it and how to build the request."""

    action: str
    packed: PackedContext
    root: Path
    """The workspace folder of the target: the model's cache key, the verifier's shadow copy."""
    request_for: RequestFor = field(repr=False)

    @property
    def manifest(self) -> list[dict]:
        """What the prompt holds, item by item: shown to the user with the result."""
        return self.packed.manifest


@dataclass(frozen=True)
class Checked:
    """What an action that proposes an edit returns besides the proposal: the model's generation,
    what the prompt held, the verification, and why it is not offered (None: it passed)."""

    generation: Generation
    manifest: tuple[dict, ...]
    verification: Verification
    refused: outcome.Outcome | None
    document: str
    """What the user reads when it was refused (Fix failing test: in every case)."""

    @property
    def summary(self) -> str:
        """What was checked (offered) or why it was not (refused), in one line."""
        return self.refused.reason if self.refused else self.verification.summary()


def pack(assistant: Assistant, ask: Ask, instruction: str = "") -> PackedContext:
    """The context for ``ask``: the target, what ``instruction`` names, then the code that
    matters most, as much as fits."""
    return assistant.explain_context(ask.path, ask.text, ask.start, ask.end, ask.roots, ask.read_text, instruction)


def model_request(assistant: Assistant, action: str, request_for: RequestFor, on_thought: OnText | None = None) -> GenerationRequest:
    """The request in the loaded model's prompt style, thinking or not as the action and model say."""
    info, model = assistant.backend.load(), assistant.settings.model
    thinks = wants_thinking(model.thinking, action, info.supports_thinking)
    return with_thinking(request_for(info.prompt_style), thinks, model.thinking_max_tokens, on_thought)


AGAIN_SEED = 0x5EED
"""Seeds of the answers after the first (which uses the backend's own): fixed, so a run repeats."""
AGAIN_TEMPERATURE = 0.6
"""The least temperature of the answers after the first: at 0 (greedy) or 0.2 the same prompt
mostly gives the same answer again."""


def sample_again(assistant: Assistant, attempt: int) -> dict:
    """``run_model``'s arguments for answer ``attempt`` (0 = the first, sampled as configured)."""
    if not attempt:
        return {}
    return {"seed": AGAIN_SEED + attempt, "temperature": max(assistant.settings.model.temperature, AGAIN_TEMPERATURE)}


def run_model(assistant: Assistant, prepared: Prepared, watch: Watch, cancel: CancelToken,
              seed: int | None = None, temperature: float | None = None) -> Generation:
    """Load the model (once), build the request in its prompt style and generate; blocks.
    ``seed`` and ``temperature``: sample with these instead (another answer to the same prompt)."""
    if not assistant.model_loaded:
        watch.on_stage("loading the model")
    request = model_request(assistant, prepared.action, prepared.request_for, watch.on_thought)
    if seed is not None:
        request = replace(request, seed=seed)
    if temperature is not None:
        request = replace(request, temperature=temperature)
    # A stable cache key per workspace lets a team server keep this workspace's prefix warm; a
    # refactor's answer copies most of the code it shows, so prompt-lookup decoding pays there.
    options = RunOptions(cache_key=str(prepared.root), speculative=prepared.action == "refactor", on_prefill=watch.on_prefill)
    generation = assistant.backend.submit(request, watch.on_text, cancel, options).result()
    watch.still_current()
    return generation
