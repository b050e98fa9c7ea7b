"""Facts read off the code and the index for the Explain document."""

import textwrap
from pathlib import Path

from lsp_server.actions.code_facts import code_facts, facts_markdown
from lsp_server.context.target import find_target
from lsp_server.index.python_symbols import parse_python

SOURCE = textwrap.dedent('''
    class Base:
        def price(self):
            return 0


    class Shop(Base):
        def __init__(self):
            self.items = []

        def price(self, percent: int = 0) -> float:
            if percent < 0:
                raise ValueError("negative")
            try:
                total = sum(self.items)
            except TypeError:
                raise
            def later():
                return helper()  # a nested scope: not the method's own
            log.debug("priced %s", total)
            return round(total * (100 - percent) / 100, 2)

        def each(self):
            yield from self.items


    def nothing(x):
        print(x)
''')
MANIFEST = [
    {"symbol": "Base.price", "path": "shop.py", "start_line": 3, "reason": "overridden by the target"},
    {"symbol": "checkout", "path": "app.py", "start_line": 10, "reason": "uses the target; recently edited"},
    {"symbol": "test_price", "path": "tests/test_shop.py", "start_line": 4, "reason": "tests the target (already inside the current file or another item)"},
    {"symbol": None, "path": "shop.py", "start_line": 1, "reason": "the file the target is in"},
]


def _target(line: int, end: int | None = None):
    start, stop = (line, 4), ((end, 0) if end is not None else (line, 4))
    return find_target(Path("/w/shop.py"), SOURCE, parse_python(SOURCE), start, stop)


def test_a_method_s_facts():
    rows = dict(code_facts(_target(11), MANIFEST, ["2026-01-02 Ada: Round to cents (1234abcd)"]))
    assert rows["Signature"] == "`def price(self, percent: int = 0) -> float`"
    assert rows["Returns"] == "annotated `float`; `round(total * (100 - percent) / 100, 2)`"
    assert rows["Raises"] == "`ValueError`, the exception being handled (bare `raise`)"
    assert rows["Calls"] == "`sum`, `log.debug`, `round`"  # not ValueError (raised), not helper (nested)
    assert rows["Overrides"] == "`Base.price` (shop.py:3)"
    assert rows["Used by"] == "`checkout` (app.py:10)"
    assert rows["Tested by"] == "`test_price` (tests/test_shop.py:4)"
    assert rows["Last commits"] == "2026-01-02 Ada: Round to cents (1234abcd)"


def test_a_class_a_generator_and_a_function_without_return():
    shop = dict(code_facts(_target(6), [], []))
    assert shop["Signature"] == "`class Shop(Base)`" and shop["Methods"] == "`__init__`, `price`, `each`"
    assert "Returns" not in shop and shop["Raises"].startswith("`ValueError`")
    each = dict(code_facts(_target(23), [], []))
    assert each["Returns"] == "a generator, yielding `self.items`"
    nothing = dict(code_facts(_target(27), [], []))
    assert nothing["Returns"] == "`None` (no return statement)" and "Raises" not in nothing


def test_a_selection_has_no_signature_and_markdown_lists_the_rows():
    rows = code_facts(_target(19, 21), [], [])
    assert [label for label, _ in rows] == ["Returns", "Calls"]
    assert facts_markdown(rows).startswith("## Facts read off the code\n\n- **Returns:** `round(")
    assert facts_markdown([]) == ""


def test_long_lists_are_counted():
    source = "def f():\n" + "".join(f"    g{i}()\n" for i in range(11))
    target = find_target(Path("f.py"), source, parse_python(source), (0, 4), (0, 4))
    assert dict(code_facts(target, [], []))["Calls"].endswith("`g7` and 3 more")
