"""Explain: what the target code does, as Markdown or as a comment above it.

Two prompt styles. Instruction-tuned models (Gemma 4 with its chat template) get a chat turn.
Base models (the bundled Gemma 3 270M has no template) get a few-shot completion: two worked
examples, then the target, stopping at the next section marker.
"""

from __future__ import annotations

import dataclasses
import re
import textwrap
from dataclasses import dataclass

from lsp_server.actions import prompts
from lsp_server.actions.code_facts import facts_markdown
from lsp_server.context.pack import ContextItem, PackedContext
from lsp_server.estimate import estimate_tokens
from lsp_server.context.target import Target
from lsp_server.model.backend import Generation, GenerationRequest, Message
from lsp_server.model.thinking import CUT_OFF_NOTE, folded_thought

SYSTEM = (
    "You are gemma-lsp, a coding assistant inside the user's editor. Explain Python code precisely "
    "and briefly: what it does, its inputs and outputs, side effects, and anything surprising. "
    "Use the related code to explain how the target fits in. Answer in Markdown."
)

FEW_SHOT_HEADER = """Python code, each snippet followed by a short explanation of what it does.

### Code
def is_even(n):
    return n % 2 == 0
### Explanation
`is_even` returns True when `n` is divisible by two, and False otherwise.

### Code
class Counter:
    def __init__(self):
        self.count = 0

    def increment(self):
        self.count += 1
        return self.count
### Explanation
`Counter` keeps a count that starts at zero; `increment` adds one to it and returns the new count.

"""
SECTION_MARKER = "###"


@dataclass(frozen=True)
class Explanation:
    target: Target
    text: str
    generation: Generation
    facts: tuple[tuple[str, str], ...] = ()
    """(label, Markdown) rows read off the code and the index (code_facts.py), shown after the text."""
    manifest: tuple[dict, ...] = ()
    """What the prompt held, item by item (context/pack.py's manifest rows)."""
    repeats: str = ""
    """The other definition (and its context item) whose docstring the final answer repeats
    (``repeated_docstring``), if it does: the document says so."""


def build_request(packed: PackedContext, style: str, max_tokens: int, temperature: float) -> GenerationRequest:
    if style == "chat":
        return GenerationRequest(
            messages=(Message("system", SYSTEM), Message("user", _chat_question(packed))),
            max_tokens=max_tokens,
            temperature=temperature,
            shared_chars=prompts.shared_in_chat(packed),
        )
    return GenerationRequest(
        text=completion_prompt(packed),
        max_tokens=max_tokens,
        temperature=temperature,
        stop=(SECTION_MARKER, "\n\n\n", "```"),
        keep_head_tokens=len(FEW_SHOT_HEADER) // 3,
        answer_prefix=answer_prefix(packed.target),
        shared_chars=prompts.shared_in_completion(FEW_SHOT_HEADER, packed),
    )


def answer_prefix(target: Target) -> str:
    """Start the answer the way the examples do: small base models then stay on the target."""
    if target.kind == "selection":
        return "This code"
    return f"`{target.name.rsplit('.', 1)[-1]}`"


def completion_prompt(packed: PackedContext) -> str:
    """Stable first: the examples, related code, the current file, then the target."""
    return f"{FEW_SHOT_HEADER}{prompts.context_completion(packed)}### Code\n{packed.target.text.rstrip()}\n### Explanation\n"


def _chat_question(packed: PackedContext) -> str:
    target = packed.target
    return (
        prompts.context_markdown(packed)
        + f"Explain `{target.name}` ({target.kind}, {prompts.where(packed)}):\n```python\n{target.text.rstrip()}\n```"
    )


def with_history(packed: PackedContext, commits: list[str]) -> PackedContext:
    """The context plus the commits that changed the target's lines (who, when, why), last in
    the context (volatile), and a manifest row saying so."""
    if not commits:
        return packed
    target = packed.target
    title = f"history of {target.name} (git log -L)"
    text = "".join(f"# {line}\n" for line in commits)
    item = ContextItem(title, text, "commits that changed the target's lines", "history")
    row = {
        "title": title, "section": "history", "path": str(target.path), "start_line": target.start_line + 1,
        "end_line": target.end_line + 1, "symbol": target.name, "tokens": estimate_tokens(text),
        "reason": f"{len(commits)} commit{'' if len(commits) == 1 else 's'} that changed the target's lines", "included": True,
    }
    return dataclasses.replace(packed, items=[*packed.items, item], manifest=[*packed.manifest, row])


DOCSTRING = re.compile(r'"""(.*?)"""|\'\'\'(.*?)\'\'\'', re.S)
DEFINED = re.compile(r"^\s*(?:async\s+)?(?:def|class)\s+(\w+)", re.M)
REPEAT_SHARE = 0.5
"""An answer whose word 4-grams are at least this share another docstring's is that docstring."""
REPEAT_MIN_WORDS = 8
"""Shorter answers are left alone: a few common words in a row are not a copy."""


def repeated_docstring(answer: str, packed: PackedContext) -> str | None:
    """The definition (and context item) whose docstring the answer mostly repeats, or None. The
    target's own docstring (the current file holds it) may be repeated: it describes the target. Any
    other describes other code: small models copy a neighbour's docstring when it looks alike."""
    words = _words(answer)
    if len(words) < REPEAT_MIN_WORDS:
        return None
    own_name = packed.target.name.rsplit(".", 1)[-1]
    for item in packed.items:
        for match in DOCSTRING.finditer(item.text):
            owner = (DEFINED.findall(item.text[:match.start()]) or [""])[-1]
            if owner != own_name and mostly_repeats(answer, match.group(1) or match.group(2)):
                return f"`{owner}` ({item.title})" if owner else item.title
    return None


def mostly_repeats(answer: str, docstring: str) -> bool:
    """At least ``REPEAT_SHARE`` of the answer's word 4-grams are the docstring's."""
    grams = _four_grams(_words(answer))
    return bool(grams) and len(grams & _four_grams(_words(docstring))) >= REPEAT_SHARE * len(grams)


def repeats_note(explanation: Explanation) -> str:
    """What the user is told of an answer left repeating another definition's docstring ("" if none)."""
    if not explanation.repeats:
        return ""
    return (f"This answer repeats a docstring of {explanation.repeats} from the context: it may describe that code "
            f"rather than `{explanation.target.name}`.")


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9_]+", text.lower())


def _four_grams(words: list[str]) -> set[tuple[str, ...]]:
    return {tuple(words[i:i + 4]) for i in range(len(words) - 3)}


def clean_answer(text: str) -> str:
    """Trim what base models add after the answer (blank tails, unfinished sentences kept as is)."""
    return text.strip()


def as_markdown(explanation: Explanation) -> str:
    """The document shown to the user: the answer, then the facts read off the code and the index
    (the answer first: it is what was asked for; the facts check it), then what the model saw,
    folded (a table that would fill the screen), and how long it took."""
    target, gen, manifest = explanation.target, explanation.generation, explanation.manifest
    rows = "\n".join(
        f"| {item['title']} | {item['reason']} | {item['tokens']} | {'yes' if item['included'] else 'no (over budget)'} |"
        for item in manifest
    )
    included = [item for item in manifest if item["included"]]
    estimate = sum(int(item["tokens"] or 0) for item in included)
    note = repeats_note(explanation)
    repeats = f"_{note} Read the facts below._\n\n" if note else ""
    return (
        f"# Explanation of `{target.name}`\n\n"
        f"{explanation.text or (CUT_OFF_NOTE if gen.thought_cut_off else '_The model returned no text._')}\n\n{repeats}"
        f"_{target.path.name}, lines {target.start_line + 1}-{target.end_line + 1}_\n\n{folded_thought(gen.thought)}"
        f"{facts_markdown(list(explanation.facts))}"
        f"---\n\n## Context sent to the model\n\n"
        f"{gen.prompt_tokens} prompt tokens (the model's count; {gen.cached_tokens} reused from the cache, {gen.prompt_cut_tokens} cut), "
        f"{gen.completion_tokens} generated; prefill {gen.prefill_seconds:.2f} s, decode {gen.decode_seconds:.2f} s.\n\n"
        f"<details><summary>{len(included)} of {len(manifest)} context items, about {estimate} tokens (estimated)</summary>\n\n"
        f"| item | why | tokens (est.) | included |\n|---|---|---|---|\n{rows}\n\n</details>\n"
    )


def comment_block(explanation_text: str, indent: str, width: int = 88, max_lines: int = 8) -> str:
    """The explanation as ``#`` comment lines, wrapped, at the target's indentation."""
    plain = re.sub(r"```.*?(```|$)", "", explanation_text, flags=re.S)
    plain = " ".join(plain.replace("`", "").split())
    if not plain:
        return ""
    wrapped = textwrap.wrap(plain, width=max(20, width - len(indent) - 2))
    if len(wrapped) > max_lines:
        wrapped = wrapped[:max_lines]
        wrapped[-1] = wrapped[-1].rstrip(".,;: ") + " ..."
    return "".join(f"{indent}# {line}\n" for line in wrapped)


def comment_insertion(file_text: str, target: Target, explanation_text: str) -> tuple[int, str] | None:
    """Where and what to insert above the target: (line, text), or None for an empty answer."""
    lines = file_text.splitlines()
    first = lines[target.start_line] if target.start_line < len(lines) else ""
    indent = first[: len(first) - len(first.lstrip())]
    block = comment_block(explanation_text, indent)
    return (target.start_line, block) if block else None
