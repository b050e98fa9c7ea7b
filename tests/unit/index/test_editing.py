"""An edit re-reads only the definition around it: the facts must equal a full re-read."""

import random

import pytest

from lsp_server.index import editing
from lsp_server.index.editing import EditedTrees
from lsp_server.index.facts import extract_facts, reextract_facts

from tests.python_samples import sample_module
SNIPPETS = [
    "x", "\n", "    ", "(", ")", ":", '"', "'''", "#", "@decorator\n", "import os\n", "from .m import a as b\n",
    "    def added(self, value):\n        return helper(value)\n", "class Added(Base):\n    LIMIT = 1\n", "def f():\n    pass\n",
    "async def g():\n    await h()\n", "NAME = 3\n", "\n\n", "pass\n", "        ",
]
FIELDS = ("definitions", "imports", "import_starts", "name_spans", "has_errors", "bases", "decorators", "uses")


def edited(text: str, rng: random.Random) -> str:
    at = rng.randrange(len(text) + 1)
    if rng.random() < 0.3 and text:
        return text[:at] + text[at + rng.randrange(1, 40) :]
    return text[:at] + rng.choice(SNIPPETS) + text[at:]


@pytest.mark.parametrize("seed", range(4))
def test_incremental_facts_equal_a_full_read_after_random_edits(seed):
    text = sample_module(seed)
    trees, rng = EditedTrees(), random.Random(seed)
    trees.update("f.py", text)
    for _ in range(60):
        text = edited(text, rng)
        incremental = trees.update("f.py", text)
        full = extract_facts("f.py", text.encode(), mtime_ns=0)
        for field in FIELDS:
            assert getattr(incremental, field) == getattr(full, field), field


LINES = ["value = helper(1)", "def added(self, item):\n{indent}    return item", "class Inner(Base):\n{indent}    LIMIT = 2", "@cache\n{indent}def cached():\n{indent}    pass",
         "import json", "from .other import thing as alias", "x = 1; y = 2", '"""A string with def inside."""', "# a comment with class in it"]


def valid_edit(text: str, rng: random.Random) -> str:
    """A change that keeps the file valid: a line added with the indentation of the next one, a
    blank line removed, or a name changed."""
    lines = text.splitlines(keepends=True)
    at = rng.randrange(len(lines))
    indent = lines[at][: len(lines[at]) - len(lines[at].lstrip())] if lines[at].strip() else ""
    choice = rng.random()
    if choice < 0.6:
        added = rng.choice(LINES).format(indent=indent)
        return "".join(lines[:at]) + indent + added + "\n" + "".join(lines[at:])
    if choice < 0.8 and not lines[at].strip():
        return "".join(lines[:at] + lines[at + 1 :])
    return "".join(lines[:at]) + lines[at].replace("self", "me", 1) + "".join(lines[at + 1 :])


@pytest.mark.parametrize("seed", range(4, 7))
def test_incremental_facts_equal_a_full_read_after_valid_edits(seed, monkeypatch):
    incremental_reads = []
    monkeypatch.setattr(editing, "reextract_facts", lambda *args: incremental_reads.append(1) or reextract_facts(*args))
    text = sample_module(seed)
    trees, rng = EditedTrees(), random.Random(seed)
    trees.update("f.py", text)
    for _ in range(80):
        changed = valid_edit(text, rng)
        text = changed if not extract_facts("f.py", changed.encode()).has_errors else text  # inside a string or bracket: skip
        incremental = trees.update("f.py", text)
        full = extract_facts("f.py", text.encode(), mtime_ns=0)
        for field in FIELDS:
            assert getattr(incremental, field) == getattr(full, field), field
    assert len(incremental_reads) > 40  # the region path ran, not only the full re-read after errors


def test_an_edit_inside_a_method_keeps_the_rest_and_moves_what_follows():
    text = "import os\n\nclass A(Base):\n    X = 1\n\n    def f(self):\n        return 1\n\n    def g(self):\n        return os.sep\n\ndef h():\n    pass\n"
    trees = EditedTrees()
    before = trees.update("f.py", text)
    after = trees.update("f.py", text.replace("return 1\n", "value = 2\n        return value\n"))
    lines = {d.qualname: (d.start_line, d.end_line) for d in after.definitions}
    assert lines == {"A": (2, 10), "A.X": (3, 3), "A.f": (5, 7), "A.g": (9, 10), "h": (12, 13)}
    assert after.find("A.X") == before.find("A.X")  # untouched, the same tuple
    assert "value" in after.uses["A.f"] and after.bases == {"A": ("Base",)}
