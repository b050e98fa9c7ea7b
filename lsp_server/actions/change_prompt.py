"""Change's prompts: the instruction, the code it is about and its context, and the answer format
shown by one worked example (completion prompts, base models) or described (chat prompts).

The example's task (a late fee on library loans) is no task of the benchmark: tests/benchmarks/
change_app is a different application."""

from __future__ import annotations

from pathlib import Path

from lsp_server.actions import prompts
from lsp_server.context.pack import PackedContext
from lsp_server.estimate import estimate_tokens
from lsp_server.model.backend import GenerationRequest, Message

DEFAULT_FORMAT = "symbols"
"""Chosen by measurement on the bundled model (tests/benchmarks/RESULTS.md, "Change..."): whole
definitions were verified more often than search/replace blocks (whose SEARCH the 270M model
rarely copies exactly) or diffs (whose hunks it rarely keeps consistent)."""
STOP = ("### End", "### Instruction", "### Code", "### Context", "### Change so far", "(current file")
"""The example's end, the prompt's own headings, or its current file's title: a base model that
writes these has left its answer and is echoing the prompt."""
MIN_ANSWER_TOKENS, MAX_ANSWER_TOKENS = 384, 2048

EXAMPLE_CONTEXT = '''### Context
# library/settings.py: LOAN_DAYS
LOAN_DAYS = 14

### Code (library/loans.py, lines 1-4)
from library import settings

def due_in(days_out):
    return settings.LOAN_DAYS - days_out
### Instruction
Charge a late fee for each overdue day, set in the settings; test it.
### Edits
'''
LATE_FEE = '''def late_fee(days_out):
    overdue = max(0, days_out - settings.LOAN_DAYS)
    return overdue * settings.LATE_FEE
'''
TEST = '''from library.loans import late_fee


def test_late_fee_counts_overdue_days():
    assert late_fee(16) == 0.5
'''
EXAMPLES = {
    "symbols": (
        f"### File: library/settings.py\n```python\nLATE_FEE = 0.25\n```\n"
        f"### File: library/loans.py\n```python\n{LATE_FEE}```\n"
        f"### File: tests/test_late_fee.py\n```python\n{TEST}```\n"
    ),
    "search_replace": (
        "library/settings.py\n```python\n<<<<<<< SEARCH\nLOAN_DAYS = 14\n=======\nLOAN_DAYS = 14\nLATE_FEE = 0.25\n>>>>>>> REPLACE\n```\n"
        f"library/loans.py\n```python\n<<<<<<< SEARCH\ndef due_in(days_out):\n=======\n{LATE_FEE}\n\ndef due_in(days_out):\n>>>>>>> REPLACE\n```\n"
        f"tests/test_late_fee.py\n```python\n<<<<<<< SEARCH\n=======\n{TEST}>>>>>>> REPLACE\n```\n"
    ),
    "diff": (
        "--- a/library/settings.py\n+++ b/library/settings.py\n@@ -1 +1,2 @@\n LOAN_DAYS = 14\n+LATE_FEE = 0.25\n"
        "--- a/library/loans.py\n+++ b/library/loans.py\n@@ -2,3 +2,8 @@\n \n"
        + "".join(f"+{line}\n" for line in (LATE_FEE + "\n").splitlines()) + "+\n def due_in(days_out):\n"
        "--- /dev/null\n+++ b/tests/test_late_fee.py\n@@ -0,0 +1,5 @@\n" + "".join(f"+{line}\n" for line in TEST.splitlines())
    ),
}
DESCRIPTIONS = {
    "symbols": "For each file you change or create: a line `### File: <path>`, then one ```python block holding the "
               "complete new or changed functions, classes and module-level lines of that file (not the unchanged rest).",
    "search_replace": "For each change: the file's path on a line, then a ```python block holding `<<<<<<< SEARCH`, the exact "
                      "lines to find, `=======`, their replacement, `>>>>>>> REPLACE`. An empty SEARCH creates a new file.",
    "diff": "A unified diff: `--- a/<path>`, `+++ b/<path>`, then `@@` hunks with context lines; `--- /dev/null` for a new file.",
}
SYSTEM = (
    "You change Python code across files following an instruction. Use the project's existing code, names and "
    "configuration; put new tests under tests/. Answer with the edits only. {format}"
)


def answer_tokens(packed: PackedContext, max_tokens: int) -> int:
    """Room for the edits: twice the target's size and some, within bounds; at least ``max_tokens``."""
    wanted = estimate_tokens(packed.target.text) * 2 + 256
    return max(max_tokens, min(MAX_ANSWER_TOKENS, max(MIN_ANSWER_TOKENS, wanted)))


def shown_path(path: Path, packed: PackedContext) -> str:
    """The target file's path as the manifest shows it (workspace-relative)."""
    target = next((row for row in packed.manifest if row.get("section") == "target"), None)
    return target["path"] if target else path.name


def answer_prefix(fmt: str, path: str) -> str:
    """How the answer starts: the target's file named in the format (base models follow it)."""
    return {
        "symbols": f"### File: {path}\n```python\n",
        "search_replace": f"{path}\n```python\n<<<<<<< SEARCH\n",
        "diff": f"--- a/{path}\n+++ b/{path}\n@@",
    }[fmt]


def build_request(packed: PackedContext, instruction: str, style: str, max_tokens: int, temperature: float,
                  fmt: str = DEFAULT_FORMAT, so_far: str = "") -> GenerationRequest:
    """The request for ``instruction`` on ``packed``; ``so_far``: the files as a previous proposal
    left them (a follow-up instruction refines it)."""
    target, path = packed.target, shown_path(packed.target.path, packed)
    tokens = answer_tokens(packed, max_tokens)
    lines = f"lines {target.start_line + 1}-{target.end_line + 1}"
    if style == "chat":
        question = (prompts.context_markdown(packed) + (f"The change so far:\n\n{so_far}\n" if so_far else "")
                    + f"The code ({path}, {lines}):\n```python\n{target.text.rstrip()}\n```\n\nInstruction: {instruction}")
        system = SYSTEM.format(format=DESCRIPTIONS[fmt])
        return GenerationRequest(messages=(Message("system", system), Message("user", question)), max_tokens=tokens, temperature=temperature)
    example = EXAMPLE_CONTEXT + EXAMPLES[fmt] + "### End\n\n"
    history = f"### Change so far\n{so_far}\n" if so_far else ""
    text = (f"{example}{prompts.context_completion(packed)}{history}### Code ({path}, {lines})\n{target.text.rstrip()}\n"
            f"### Instruction\n{instruction}\n### Edits\n")
    return GenerationRequest(text=text, max_tokens=tokens, temperature=temperature, stop=STOP, answer_prefix=answer_prefix(fmt, path))


def files_so_far(files: list[tuple[str, str]]) -> str:
    """(shown path, text) of the files a previous proposal changed, for a follow-up's prompt."""
    return "".join(f"# {path} (as changed)\n{text.rstrip()}\n\n" for path, text in files)
