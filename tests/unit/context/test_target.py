from pathlib import Path

from lsp_server.context.target import find_target
from lsp_server.index.python_symbols import parse_python

TEXT = "def outer(x):\n    y = x + 1\n    return y\n\nclass K:\n    def m(self):\n        return 2\n"


def target_at(start, end):
    return find_target(Path("f.py"), TEXT, parse_python(TEXT), start, end)


def test_cursor_inside_a_function_targets_it():
    target = target_at((1, 4), (1, 4))
    assert target.name == "outer" and target.kind == "function"
    assert (target.start_line, target.end_line) == (0, 2)
    assert target.text.startswith("def outer")


def test_cursor_in_a_method_targets_the_method():
    assert target_at((6, 8), (6, 8)).name == "K.m"


def test_a_selection_is_its_own_target():
    target = target_at((1, 4), (2, 12))
    assert target.kind == "selection"
    assert target.text == "y = x + 1\n    return y"
    assert target.name == "lines 2-3 in outer"


def test_a_selection_ending_at_column_zero_ends_on_the_line_before():
    target = target_at((1, 0), (3, 0))
    assert target.end_line == 2


def test_nothing_at_module_level():
    assert target_at((3, 0), (3, 0)) is None
