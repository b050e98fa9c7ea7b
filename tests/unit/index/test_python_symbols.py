from lsp_server.index.python_symbols import Import, parse_python

SOURCE = '''"""Module doc."""
LIMIT = 10

@decorator
def total(values):
    """Add them up."""
    return sum(values)


class Stack(Base):
    def push(self, item):
        self.items.append(item)

    def pop(self):
        def inner():
            pass
        return self.items.pop()

from .models import User as U, Group
from pkg.sub import thing
import os.path, json as j
'''


def test_definitions_with_kinds_ranges_and_docstrings():
    parsed = parse_python(SOURCE)
    by_name = {d.qualname: d for d in parsed.definitions}
    assert set(by_name) == {"LIMIT", "total", "Stack", "Stack.push", "Stack.pop", "Stack.pop.inner"}
    total = by_name["total"]
    assert total.kind == "function" and total.docstring == "Add them up."
    assert (total.start_line, total.end_line) == (3, 6)  # decorator included
    assert by_name["Stack.push"].kind == "method"
    assert by_name["Stack.pop.inner"].kind == "function"
    assert by_name["LIMIT"].kind == "constant"
    assert parsed.text_of(total).startswith("@decorator\ndef total")


def test_innermost_definition_at_a_line():
    parsed = parse_python(SOURCE)
    assert parsed.innermost_at(11).qualname == "Stack.push"
    assert parsed.innermost_at(15).qualname == "Stack.pop.inner"
    assert parsed.innermost_at(1) is None  # a constant is not a target


def test_imports_absolute_relative_and_aliased():
    parsed = parse_python(SOURCE)
    assert parsed.imports == (
        Import("models", 1, ("User", "Group"), ("U", "Group")),
        Import("pkg.sub", 0, ("thing",)),
        Import("os.path", 0, ()),
        Import("json", 0, ()),
    )


def test_syntax_errors_do_not_stop_extraction():
    parsed = parse_python("def ok():\n    return 1\n\ndef broken(:\n")
    assert parsed.has_errors
    assert parsed.find("ok") is not None


def test_non_ascii_text_keeps_byte_ranges_right():
    parsed = parse_python('NAME = "héllo"\ndef f():\n    return "✓"\n')
    assert parsed.text_of(parsed.find("f")) == 'def f():\n    return "✓"'
