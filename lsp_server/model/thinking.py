"""A model's thought, kept apart from its answer.

Gemma 4 thinks in a channel before it answers: ``<|channel>thought\\n ... <channel|>`` and then
the answer. Only the answer may become code, a comment, a test file or hover text; the thought
is shown as thinking while it streams and folded in the explanation document. This is the one
place that knows the markup: the backends split every generation with it, so the actions only
ever see the answer. Pure; never imports pygls.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

from lsp_server.model.backend import GenerationRequest

THOUGHT_OPEN = "<|channel>"
THOUGHT_CLOSE = "<channel|>"
CHANNEL_NAME = "thought\n"
"""The channel's name, written right after its opening token."""

CONTROL_TEXT = (
    "<|turn>", "<turn|>", "<|think|>", THOUGHT_OPEN, THOUGHT_CLOSE, "<|tool>", "<tool|>",
    "<|tool_call>", "<tool_call|>", "<|tool_response>", "<tool_response|>",
    "<start_of_turn>", "<end_of_turn>",
)
"""Gemma's turn and channel control tokens: a server that returns them as text (or a model that
writes one where it should not) must not put them into an edit."""

THINKING_ACTIONS = frozenset({"fix_test", "refactor"})
"""Actions that think under ``model.thinking`` auto: those that must reason about why code fails
or how to restructure it; the others are quick and answer directly."""

THINKING_ARCHITECTURES = frozenset({"gemma4"})
"""Families whose chat format has a thinking channel."""

CUT_OFF_NOTE = (
    "The model ran out of tokens while it was still thinking, so it gave no answer. "
    "Raise model.thinking_max_tokens, or set model.thinking to off."
)


@dataclass(frozen=True)
class Split:
    thought: str
    answer: str
    cut_off: bool = False
    """The text ended inside the thought (the token budget ran out before the answer)."""


def split_thought(text: str, thinking: bool = False) -> Split:
    """Split a whole answer into (thought, answer).

    ``thinking``: the prompt left the model inside an open thought channel (a template that
    pre-fills ``<|channel>thought\\n``), so the text up to the first ``<channel|>`` is thought.
    Text without any channel is all answer.
    """
    thoughts: list[str] = []
    answer: list[str] = []
    inside, rest, cut_off = thinking, text, False
    while rest:
        if inside:
            end = rest.find(THOUGHT_CLOSE)
            part = rest if end == -1 else rest[:end]
            thoughts.append(_without_name(part))
            if end == -1:
                cut_off = True
                break
            rest, inside = rest[end + len(THOUGHT_CLOSE):], False
        else:
            start = rest.find(THOUGHT_OPEN)
            answer.append(rest if start == -1 else rest[:start])
            if start == -1:
                break
            rest, inside = rest[start + len(THOUGHT_OPEN):], True
    thought = "\n".join(t.strip() for t in thoughts if t.strip())
    text = strip_control_text("".join(answer))
    # The answer after a thought starts on a new line; text without one is passed on as it came.
    return Split(strip_control_text(thought), text.lstrip("\n") if thoughts else text, cut_off)


def strip_thoughts(text: str) -> str:
    """An earlier answer without its thought, as Gemma 4's template strips it (``strip_thinking``)."""
    kept = [part.split(THOUGHT_OPEN)[0] if THOUGHT_OPEN in part else part for part in text.split(THOUGHT_CLOSE)]
    return "".join(kept).strip()


def strip_control_text(text: str) -> str:
    for token in CONTROL_TEXT:
        text = text.replace(token, "")
    return text


def _without_name(part: str) -> str:
    return part[len(CHANNEL_NAME):] if part.startswith(CHANNEL_NAME) else part.removeprefix("thought")


def folded_thought(thought: str) -> str:
    """Markdown for a document: the thought folded away under the answer (nothing without one)."""
    if not thought.strip():
        return ""
    return f"<details><summary>The model's thinking</summary>\n\n{thought.strip()}\n\n</details>\n\n"


def model_thinks(architecture: str, template: str | None = None, name: str = "") -> bool:
    """Whether a model can think: a thinking family (from the GGUF, or a served model's name such
    as ``gemma-4-31b-it``), or a chat template that reads the ``enable_thinking`` switch."""
    family = name.lower().replace("-", "").replace("_", "")
    return architecture in THINKING_ARCHITECTURES or "gemma4" in family or "enable_thinking" in (template or "")


def wants_thinking(mode: str, action: str, model_thinks: bool) -> bool:
    """Whether this action's request asks the model to think (``model.thinking``)."""
    if not model_thinks or mode == "off":
        return False
    return mode == "on" or action in THINKING_ACTIONS


def with_thinking(request: GenerationRequest, thinks: bool, budget: int, on_thought: Callable[[str], None] | None) -> GenerationRequest:
    """The request with thinking on: chat prompts only (a completion prompt has no channel),
    with the thought's own token budget on top of the answer's."""
    if not thinks or request.text is not None:
        return request
    return dataclasses.replace(request, thinking=True, thinking_tokens=budget, on_thought=on_thought)


class TokenBudget:
    """The thought's and the answer's token budgets, each on its own (a long thought must not eat
    the answer's), within the room the context window leaves (``total``). Without a thought
    budget (thinking off), a thought the model writes anyway counts as answer."""

    def __init__(self, answer: int, thought: int, total: int) -> None:
        self._left = {False: answer, True: thought}
        self._total = total
        self._apart = thought > 0

    def spend(self, in_thought: bool) -> bool:
        """Count one token of the answer or the thought; True once a budget is used up."""
        in_thought = in_thought and self._apart
        self._left[in_thought] -= 1
        self._total -= 1
        return self._left[in_thought] <= 0 or self._total <= 0


class ThoughtRouter:
    """Streams a generation's pieces to ``on_answer`` and ``on_thought`` as they arrive.

    Text that may be the start of a marker is held back until the next piece tells; markers and
    the channel name are never passed on.
    """

    @property
    def inside(self) -> bool:
        """Whether the text so far ends inside the thought."""
        return self._inside

    def __init__(self, on_answer: Callable[[str], None], on_thought: Callable[[str], None] | None = None, thinking: bool = False) -> None:
        self._on_answer = on_answer
        self._on_thought = on_thought or (lambda _piece: None)
        self._inside = thinking
        self._name_pending = False
        self._held = ""

    def __call__(self, piece: str) -> None:
        self._held += piece
        while self._held:
            marker = THOUGHT_CLOSE if self._inside else THOUGHT_OPEN
            if self._name_pending:
                if len(self._held) < len(CHANNEL_NAME) and CHANNEL_NAME.startswith(self._held):
                    return
                self._held = self._held.removeprefix(CHANNEL_NAME)
                self._name_pending = False
                continue
            index = self._held.find(marker)
            if index != -1:
                self._send(self._held[:index])
                self._held = self._held[index + len(marker):]
                self._inside = not self._inside
                self._name_pending = self._inside
                continue
            keep = _partial_suffix(self._held, marker)
            ready, self._held = self._held[: len(self._held) - keep], self._held[len(self._held) - keep:]
            self._send(ready)
            return

    def finish(self) -> None:
        """Pass on what is held back at the end of the generation."""
        held, self._held = self._held, ""
        if not self._name_pending:
            self._send(held)

    def _send(self, text: str) -> None:
        text = strip_control_text(text)
        if text:
            (self._on_thought if self._inside else self._on_answer)(text)


class InlineThought:
    """Writes a thought that a team server returns apart (``reasoning_content``) back inline, in
    the channel markup, so one router and one split serve both kinds of server."""

    def __init__(self) -> None:
        self._open = False

    def feed(self, reasoning: str, content: str) -> str:
        text = ""
        if reasoning:
            text += ("" if self._open else THOUGHT_OPEN + CHANNEL_NAME) + reasoning
            self._open = True
        if content and self._open:
            text, self._open = text + THOUGHT_CLOSE, False
        return text + content


def _partial_suffix(text: str, marker: str) -> int:
    for size in range(min(len(marker) - 1, len(text)), 0, -1):
        if text.endswith(marker[:size]):
            return size
    return 0
