"""Explain: the target, its context and its last commits, the model's answer, and the facts read
off the code and the index beside it."""

from __future__ import annotations

import dataclasses

from lsp_server.actions import explain
from lsp_server.actions.code_facts import code_facts
from lsp_server.assistant import Assistant
from lsp_server.context.build import file_ranked
from lsp_server.index.git_facts import range_history
from lsp_server.model.backend import CancelToken, Generation, RunOptions
from lsp_server.pipeline.run import Ask, Prepared, Watch, model_request, pack, run_model, sample_again

HISTORY_COMMITS = 5


@dataclasses.dataclass(frozen=True)
class PreparedExplain(Prepared):
    context: list[dict] = dataclasses.field(default_factory=list)
    """The manifest without the history row: what the facts' callers and overrides are read from."""
    commits: list[str] = dataclasses.field(default_factory=list)


def prepare(assistant: Assistant, ask: Ask) -> PreparedExplain:
    packed = pack(assistant, ask)
    target = packed.target
    # git log -L can take a while: here, on the caller's worker thread, not on an event loop.
    commits = range_history(assistant.git, target.path, target.start_line, target.end_line, HISTORY_COMMITS)
    shown = explain.with_history(packed, commits)
    model = assistant.settings.model

    def request_for(style: str):
        return explain.build_request(shown, style, model.max_tokens, model.temperature)

    return PreparedExplain("explain", shown, ask.root, request_for, packed.manifest, commits)


def run(assistant: Assistant, prepared: PreparedExplain, watch: Watch, cancel: CancelToken) -> explain.Explanation:
    """The model's answer; one that repeats another definition's docstring from the context is
    asked again with a fresh sample, up to ``verify.attempts`` answers, and said to repeat it if
    the last still does (the stream and the progress say so)."""
    attempts, repeats = assistant.settings.verify.attempts, None
    for attempt in range(attempts):
        if attempt:
            watch.on_stage(f"answer {attempt} repeats a docstring; asking again ({attempt + 1} of {attempts})")
            watch.on_text(f"\n\n*Answer {attempt} repeats a docstring of {repeats} from the context, not this code. "
                          f"Answer {attempt + 1} of {attempts}:*\n\n")
        generation = run_model(assistant, prepared, watch, cancel, **sample_again(assistant, attempt))
        repeats = explain.repeated_docstring(generation.text, prepared.packed)
        if not repeats:
            break
    target = prepared.packed.target
    facts = tuple(code_facts(target, prepared.context, prepared.commits))
    return explain.Explanation(target, explain.clean_answer(generation.text), generation, facts, tuple(prepared.manifest), repeats or "")


def prefill_shared(assistant: Assistant, ask: Ask, cancel: CancelToken) -> Generation | None:
    """Prefill the part of Explain's prompt at ``ask`` that every target of its file shares (the
    file-ranked context; none in a short window): a background warm-up, no answer. The request is
    built as ``run`` builds it (thinking included), so the real question parts where it ends."""
    if not file_ranked(assistant.settings.context, assistant.context_budget()):
        return None  # nothing is ranked for the file: nothing shared to prefill
    packed = pack(assistant, ask)
    if not packed.stable_items:
        return None
    model = assistant.settings.model
    request = model_request(assistant, "explain", lambda style: explain.build_request(packed, style, model.max_tokens, model.temperature))
    options = RunOptions(cache_key=str(ask.root), shared_only=True)
    return assistant.backend.submit(request, lambda _text: None, cancel, options).result()
