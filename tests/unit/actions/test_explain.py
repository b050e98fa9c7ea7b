from pathlib import Path

from lsp_server.actions import explain
from lsp_server.context.pack import ContextItem, PackedContext
from lsp_server.context.target import Target
from lsp_server.index.python_symbols import parse_python
from lsp_server.model.backend import Generation

TARGET = Target(Path("/w/calc.py"), "add", "function", 2, 3, "def add(a, b):\n    return a + b\n", None)
PACKED = PackedContext(TARGET, [ContextItem("util.py: helper", "def helper():\n    pass\n", "imported")], [])


def test_completion_prompt_puts_examples_first_and_the_target_last():
    prompt = explain.completion_prompt(PACKED)
    assert prompt.startswith(explain.FEW_SHOT_HEADER)
    assert prompt.index("def helper") < prompt.index("def add")
    assert prompt.endswith("### Code\ndef add(a, b):\n    return a + b\n### Explanation\n")


def test_completion_requests_stop_at_the_next_section():
    request = explain.build_request(PACKED, "completion", 64, 0.2)
    assert request.text is not None and "###" in request.stop
    assert request.max_tokens == 64


def test_chat_requests_carry_the_context_and_the_question():
    request = explain.build_request(PACKED, "chat", 64, 0.2)
    assert [m.role for m in request.messages] == ["system", "user"]
    assert "def helper" in request.messages[1].content and "Explain `add`" in request.messages[1].content


def test_comment_block_is_wrapped_indented_and_plain():
    block = explain.comment_block("`add` returns the **sum**.\n\n```python\nx = 1\n```\nDone. " + "word " * 60, "    ", width=60)
    lines = block.splitlines()
    assert all(line.startswith("    # ") and len(line) <= 60 for line in lines)
    assert "```" not in block and "`" not in block
    assert len(lines) <= 8


def test_comment_insertion_keeps_the_file_parseable():
    source = "import os\n\n\nclass A:\n    def add(self, a, b):\n        return a + b\n"
    target = Target(Path("a.py"), "A.add", "method", 4, 5, "", None)
    line, text = explain.comment_insertion(source, target, "Adds two numbers.")
    lines = source.splitlines(keepends=True)
    result = "".join(lines[:line]) + text + "".join(lines[line:])
    assert text == "    # Adds two numbers.\n"
    assert not parse_python(result).has_errors
    assert parse_python(result).find("A.add") is not None


def test_an_empty_answer_inserts_nothing():
    assert explain.comment_insertion("def f():\n    pass\n", TARGET, "  \n ") is None


def test_the_history_of_the_range_joins_the_context_and_the_manifest():
    packed = explain.with_history(PACKED, ["2026-01-02 Ada: Round to cents (1234abcd)"])
    assert packed.items[-1].title == "history of add (git log -L)" and packed.items[-1].section == "history"
    assert packed.items[-1].text == "# 2026-01-02 Ada: Round to cents (1234abcd)\n"
    assert packed.manifest[-1]["reason"] == "1 commit that changed the target's lines" and packed.manifest[-1]["included"]
    prompt = explain.completion_prompt(packed)
    assert prompt.index("Ada: Round to cents") < prompt.index("### Code\ndef add")
    assert explain.with_history(PACKED, []) is PACKED


def test_the_document_puts_the_answer_then_the_facts_then_the_context():
    generation = Generation("`add` adds.", 10, 0, 3, "stop")
    facts = (("Signature", "`def add(a, b)`"), ("Returns", "`a + b`"))
    manifest = [{"title": "util.py: helper", "reason": "imported", "tokens": 5, "included": True}]
    markdown = explain.as_markdown(explain.Explanation(TARGET, "`add` adds.", generation, facts, tuple(manifest)))
    answer, facts_at, context = markdown.index("`add` adds."), markdown.index("## Facts read off the code"), markdown.index("## Context sent to the model")
    assert answer < facts_at < context
    # The answer opens the document (no table or location line before it); the table is folded.
    assert markdown.startswith("# Explanation of `add`\n\n`add` adds.\n")
    table = markdown.index("| item | why |")
    assert markdown.rindex("<details>", 0, table) > context and markdown.index("</details>", table) > table
    assert "1 of 1 context items, about 5 tokens (estimated)" in markdown and "10 prompt tokens (the model's count" in markdown
    assert "- **Signature:** `def add(a, b)`\n- **Returns:** `a + b`\n" in markdown
    assert "## Facts" not in explain.as_markdown(explain.Explanation(TARGET, "x", generation, (), tuple(manifest)))


NEIGHBOUR = ContextItem("calc.py: sub", 'def sub(a, b):\n    """Subtract b from a and return the difference of the two numbers."""\n    return a - b\n', "same file")


def test_an_answer_that_repeats_a_neighbours_docstring_is_named():
    packed = PackedContext(TARGET, [PACKED.items[0], NEIGHBOUR], [])
    repeated = "`add` is described as: Subtract b from a and return the difference of the two numbers."
    assert explain.repeated_docstring(repeated, packed) == "`sub` (calc.py: sub)"
    assert explain.repeated_docstring("`add` returns the sum of a and b, the two numbers it is given.", packed) is None
    assert explain.repeated_docstring("`add` returns the difference of the two", packed) is None, "too short to call a copy"
    assert explain.repeated_docstring(repeated, PACKED) is None, "nothing to repeat without the neighbour"
    own = ContextItem("calc.py (current file)", 'def add(a, b):\n    """Subtract b from a and return the difference of the two numbers."""\n', "current file")
    assert explain.repeated_docstring(repeated, PackedContext(TARGET, [own], [])) is None, "the target's own docstring describes it"


def test_the_document_says_when_the_answer_repeats_a_docstring():
    generation = Generation("x", 10, 0, 3, "stop")
    shown = explain.as_markdown(explain.Explanation(TARGET, "`add` subtracts.", generation, (), (), "calc.py: sub"))
    assert "repeats a docstring of calc.py: sub" in shown and shown.index("`add` subtracts.") < shown.index("repeats")
    assert "repeats" not in explain.as_markdown(explain.Explanation(TARGET, "`add` adds.", generation, (), ()))
