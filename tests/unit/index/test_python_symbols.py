import tree_sitter
from hypothesis import given, settings
from hypothesis import strategies as st

from lsp_server.index.python_symbols import PYTHON, parse_python, scan_tree
from lsp_server.index.symbols import Import

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
        Import("json", 0, (), ("j",)),  # import json as j
    )


def test_syntax_errors_do_not_stop_extraction():
    parsed = parse_python("def ok():\n    return 1\n\ndef broken(:\n")
    assert parsed.has_errors
    assert parsed.find("ok") is not None


def test_non_ascii_text_keeps_byte_ranges_right():
    parsed = parse_python('NAME = "héllo"\ndef f():\n    return "✓"\n')
    assert parsed.text_of(parsed.find("f")) == 'def f():\n    return "✓"'


IMPORT_FORMS = [
    "import os",
    "import os.path as p, json",
    "from . import x",
    "from .import x",
    "from .. pkg.mod import (a,  # the first\n    b as bee,\n)",
    "from pkg import *",
    "from my_import import importer as imp",
    "from importlib import import_module",
    "from x import \\\n    y",
    "from ...deep import (z)",
]


def test_imports_read_from_the_text_match_the_tree():
    """Statements without errors are read from their text; the tree's reading is the oracle."""
    import tree_sitter

    from lsp_server.index import python_symbols as symbols

    for source in IMPORT_FORMS:
        data = source.encode()
        statement = tree_sitter.Parser(symbols.PYTHON).parse(data).root_node.named_child(0)
        assert not statement.has_error, source
        is_from = statement.type == "import_from_statement"
        from_tree = [symbols._from_import(statement)] if is_from else symbols._module_imports(statement)
        assert symbols._imports_in_text(data, is_from) == from_tree, source
        assert parse_python(data).imports == tuple(from_tree), source
    # Where the two differ, the text is right: a dotted name spaced out is still the module.
    assert parse_python("import a . b as c").imports == (Import("a.b", 0, (), ("c",)),)


def test_definitions_found_from_their_lines_only():
    source = '''
@app.route("/x",
           methods=["GET"])
async def handler(request):
    """Serve it."""
    text = """
def not_a_definition():
    pass
"""
    return text

class Options:
    if True:
        def conditional(self):
            return 1
    default = None
    mode: str = "fast"
    x = 1; y = 2

undefined = 0
'''
    parsed = parse_python(source)
    by_name = {d.qualname: d for d in parsed.definitions}
    assert set(by_name) == {"handler", "Options", "Options.conditional", "Options.default", "Options.mode", "Options.x", "undefined"}
    handler = by_name["handler"]
    assert (handler.start_line, handler.kind, handler.docstring) == (1, "function", "Serve it.")
    assert handler.signature == "async def handler(request):"
    assert by_name["Options.conditional"].kind == "method"  # a def in a class body's `if` is still a method
    # Known limit: a statement after `;` is not read as a definition (``y``).


def test_facts_survive_pickling_as_plain_tuples():
    import pickle

    from lsp_server.index.facts import extract_facts

    facts = extract_facts("/w/m.py", SOURCE.encode(), 1, 1)
    again = pickle.loads(pickle.dumps(facts))
    assert again == facts
    assert type(again.definitions[0]).__name__ == "Definition" and again.definitions[0].qualname == facts.definitions[0].qualname
    assert type(again.imports[0]).__name__ == "Import"


TOKENS = [b"def ", b"class ", b"import ", b"from ", b"async ", b"x", b"as", b"*", b"\xc3\xa9", b"\xff", b"\xed\xa0\x80", b"\x00", b" ", b"\t",
          b"\n", b"\r\n", b"    ", b":", b"=", b"==", b"(", b")", b"@", b'"""', b"'", b"f'", b"#", b"\\", b".", b","]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=60), st.integers(0, 10_000), st.integers(0, 10_000))
def test_any_bytes_are_read_whole_and_in_a_window(tokens, a, b):
    # Open documents come from the editor's text (lone surrogates encoded as invalid UTF-8 included);
    # the editing path re-reads a window of an edited file inside the definitions around it.
    data = b"".join(tokens)
    tree = tree_sitter.Parser(PYTHON).parse(data)
    whole = scan_tree(data, tree)
    assert parse_python(data).definitions == whole.definitions
    low, high = sorted((min(a, len(data)), min(b, len(data))))
    window = scan_tree(data, tree, low, high, [(high, "K", "class")])
    assert all(start >= low for start, _ in window.name_spans)
    assert all(d.qualname.startswith("K.") for d in window.definitions if d.kind != "constant")  # inside the enclosing class
