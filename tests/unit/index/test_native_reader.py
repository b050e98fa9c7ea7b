"""The compiled tree reader (lsp_server/index/native) against the Python reader, its oracle: the
same definitions, bases, decorators, name spans and import statements, file by file and window by
window (the editing path re-reads a window of an edited file)."""

import random
import sysconfig
from pathlib import Path

import tree_sitter
from hypothesis import given, settings
from hypothesis import strategies as st

from lsp_server.index import python_symbols as symbols

PROJECT = Path(__file__).resolve().parents[3]
PARSER = tree_sitter.Parser(symbols.PYTHON)


def test_the_native_reader_is_built():
    # setup.py builds it as an optional extension, so an install without a C compiler still works
    # (reading trees in Python, a cold index about a fifth slower); these machines have one.
    assert symbols._NATIVE is not None, "lsp_server/index/_treescan is missing: run pip install -e . where a C compiler is found"


def readings(data: bytes, window: tuple[int, int] | None = None, enclosing: list | None = None) -> tuple:
    """(native, python) readings of ``data``, in the order scan_tree puts them."""
    tree = PARSER.parse(data)
    low, high = window or (0, len(data))
    native = symbols._NATIVE.scan(data, tree, low, high, list(enclosing or []))
    python = symbols._scan_in_python(data, tree.root_node, (low, high), enclosing)
    for at, start, end, is_from, has_error, imported in native[4]:  # what it read, it read as the Python reader does
        assert imported is None or imported == symbols._imports_in_text(data[start:end], is_from), data[start:end]
    return tuple(_ordered(data, tree, reading) for reading in (native, python))


def _ordered(data: bytes, tree: tree_sitter.Tree, reading: tuple) -> tuple:
    definitions, bases, decorators, name_spans, statements = reading
    imports = symbols._read_imports(data, tree.root_node, statements)
    return sorted(definitions, key=symbols._LINE_AND_BYTE), bases, decorators, sorted(name_spans), [row[:5] for row in statements], imports


def assert_same(data: bytes, window: tuple[int, int] | None = None, enclosing: list | None = None, label: str = "") -> None:
    native, python = readings(data, window, enclosing)
    for part, (ours, reference) in zip(("definitions", "bases", "decorators", "name spans", "import statements", "imports"), zip(native, python)):
        assert ours == reference, f"{label} {window}: {part} differ"


def corpus() -> list[Path]:
    """This project's Python files and a fixed sample of the standard library."""
    stdlib = sorted(Path(sysconfig.get_paths()["stdlib"]).rglob("*.py"))
    return sorted(PROJECT.glob("lsp_server/**/*.py")) + sorted(PROJECT.glob("tests/**/*.py")) + random.Random(3).sample(stdlib, 300)


def test_the_same_reading_of_real_files_whole_and_in_windows():
    pick = random.Random(5)
    for path in corpus():
        data = path.read_bytes()
        assert_same(data, label=str(path))
        low = pick.randrange(len(data) + 1)
        high = pick.randrange(low, len(data) + 1)
        assert_same(data, (low, high), [(len(data), "Outer", "class"), (high, "Outer.inner", "function")], label=str(path))


def test_the_same_reading_of_the_forms_the_python_reader_is_tested_on():
    from tests.unit.index.test_python_symbols import IMPORT_FORMS, SOURCE

    for source in [SOURCE, *IMPORT_FORMS]:
        assert_same(source.encode(), label=source)
    docstrings = 'def a():\n    f"""x {y} z"""\ndef b():\n    rb"raw"\ndef c():\n    """""""\nclass D:\n    ""\n    q = 1\n'
    assert_same(docstrings.encode())
    assert readings(docstrings.encode())[0][0][0].docstring == "x  z"  # an f-string's fields are left out


LINES = [
    "def f(a, b):", "async def g():", "async  def  h ( ) :", "class C(Base, m.Mixin):", "class D:", "class E: x = 1", "@deco", "@m.deco(1)",
    "@(lambda f: f)", '"""doc"""', "'doc'", 'f"doc {x}"', "rb'raw'", "u'x' 'y'", "x = 1", "y: int = 2", "z == 3", "a, b = 1, 2", "é = 'ü'",
    "x = 1; y = 2", "import os", "import a.b as c, d", "from . import a as b", "from .m import (y,", "from x import *", "pass", "return 1",
    "from .import_utils import (a as b,  # c\n  d)", "from . import x", "from .. a . b import c as d, *", "from aimport x", "import  x . y  as z",
    "from x import \\\n y", "if x:", "else:", "try:", "except E:", "s = '''", "'''", "# def not_real():", "lambda: 0", "\\", ")", "(", "def", "class", "import", "=",
    ":", "async", "\x0c", "def déf(): pass",
]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["", "    ", "        ", "\t", " "]), st.sampled_from(LINES)), max_size=30),
    st.sampled_from(["\n", "\r\n"]),
    st.integers(0, 10_000),
    st.integers(0, 10_000),
)
def test_the_same_reading_of_generated_text_with_and_without_errors(lines, newline, a, b):
    data = newline.join(indent + line for indent, line in lines).encode()
    assert_same(data)
    low, high = sorted((min(a, len(data)), min(b, len(data))))
    assert_same(data, (low, high), [(high, "K", "class")])


TOKENS = [b"def ", b"class ", b"import ", b"from ", b"async ", b"x", b"as", b"*", b"\xc3\xa9", b"\xff", b"\xed\xa0\x80", b"\x00", b" ", b"\t",
          b"\n", b"\r\n", b"    ", b":", b"=", b"==", b"(", b")", b"@", b'"""', b"'", b"f'", b"#", b"\\", b".", b","]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=60))
def test_the_same_reading_of_arbitrary_bytes(tokens):
    # Open documents come from the editor's text (lone surrogates encoded as invalid UTF-8 included).
    assert_same(b"".join(tokens))
