"""Definitions and imports of one Python file, extracted with tree-sitter.

Lines are 0-based like LSP's; columns are code points of the decoded line (the server converts
LSP's UTF-16 units before calling in).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple
from importlib.resources import files

import tree_sitter
import tree_sitter_python

PYTHON = tree_sitter.Language(tree_sitter_python.language())
DOCSTRING_CHARS = 600
"""Docstrings are kept for repository maps and summaries; the head says what matters."""


class Definition(NamedTuple):
    """A tuple, not a dataclass: the index holds and caches hundreds of thousands of these."""

    name: str
    kind: str
    """"function", "method", "class" or "constant"."""
    qualname: str
    """Dotted name inside the module, e.g. ``Stack.push``."""
    start_line: int
    """First line, decorators included."""
    end_line: int
    """Last line, inclusive."""
    start_byte: int
    end_byte: int
    docstring: str | None
    signature: str = ""
    """The header up to its colon (``def f(a) -> int:``), decorators left out; the name for constants."""

    def contains_line(self, line: int) -> bool:
        return self.start_line <= line <= self.end_line

    def __reduce__(self):
        # tuple.__new__ straight from pickle: several times faster to load than the default
        # namedtuple path, and a warm start unpickles every definition of the workspace.
        return (tuple.__new__, (Definition, tuple(self)))


class Import(NamedTuple):
    module: str
    """The module as written, without the leading dots of a relative import."""
    level: int
    """Leading dots: 0 for an absolute import."""
    names: tuple[str, ...]
    """Imported names (``from m import a, b``); empty for ``import m``."""
    aliases: tuple[str, ...] = ()
    """The local name of each imported name (``import a as b`` -> ``b``), only when some differ."""

    def local_names(self) -> dict[str, str]:
        """Local name -> imported name."""
        return dict(zip(self.aliases or self.names, self.names))


@dataclass(frozen=True)
class ParsedFile:
    source: bytes
    definitions: tuple[Definition, ...]
    imports: tuple[Import, ...]
    has_errors: bool

    def text_of(self, definition: Definition) -> str:
        return self.source[definition.start_byte : definition.end_byte].decode("utf-8", "replace")

    def find(self, name: str) -> Definition | None:
        """The top-level definition called ``name`` (or a nested one by qualname)."""
        return next((d for d in self.definitions if d.qualname == name), None)

    def innermost_at(self, line: int, kinds: tuple[str, ...] = ("function", "method", "class")) -> Definition | None:
        enclosing = [d for d in self.definitions if d.kind in kinds and d.contains_line(line)]
        return max(enclosing, key=lambda d: d.start_line, default=None)


@lru_cache(maxsize=1)
def _query() -> tree_sitter.Query:
    source = files("lsp_server.index").joinpath("queries/python-symbols.scm").read_text()
    return tree_sitter.Query(PYTHON, source)


def parse_python(source: str | bytes) -> ParsedFile:
    data = source.encode("utf-8", "surrogatepass") if isinstance(source, str) else source
    return symbols_of_tree(data, tree_sitter.Parser(PYTHON).parse(data))


def symbols_of_tree(data: bytes, tree: tree_sitter.Tree) -> ParsedFile:
    """Definitions and imports of an already parsed tree (the index reuses trees across edits)."""
    definitions: list[Definition] = []
    imports: list[Import] = []
    for _, captures in tree_sitter.QueryCursor(_query()).matches(tree.root_node):
        if "import.from" in captures:
            imports.append(_from_import(captures["import.from"][0]))
        elif "import.module" in captures:
            imports.extend(_module_imports(captures["import.module"][0]))
        else:
            kind = next(key for key in captures if key.startswith("definition."))
            definitions.append(_definition(captures[kind][0], captures["name"][0], kind.split(".", 1)[1]))
    definitions.sort(key=lambda d: (d.start_line, d.start_byte))
    return ParsedFile(data, tuple(definitions), tuple(imports), tree.root_node.has_error)


def _definition(node: tree_sitter.Node, name_node: tree_sitter.Node, kind: str) -> Definition:
    outer = outer_node(node)
    owners = _owner_names(outer)
    if kind == "function" and _defined_in_class(outer):
        kind = "method"
    name = _text(name_node)
    return Definition(
        name=name,
        kind=kind,
        qualname=".".join([*owners, name]),
        start_line=outer.start_point.row,
        end_line=outer.end_point.row,
        start_byte=outer.start_byte,
        end_byte=outer.end_byte,
        docstring=(_docstring(node) or "")[:DOCSTRING_CHARS] or None,
        signature=_signature(node) if kind != "constant" else _text(node).split("\n", 1)[0][:200],
    )


def outer_node(node: tree_sitter.Node) -> tree_sitter.Node:
    """The decorated_definition around ``node`` when it has decorators, else ``node``."""
    parent = node.parent
    return parent if parent is not None and parent.type == "decorated_definition" else node


def _signature(node: tree_sitter.Node) -> str:
    body = node.child_by_field_name("body")
    if node.text is None or body is None:
        return _text(node).split("\n", 1)[0]
    header = node.text[: body.start_byte - node.start_byte].decode("utf-8", "replace")
    return " ".join(header.split())


def _owner_names(node: tree_sitter.Node) -> list[str]:
    owners: list[str] = []
    parent = node.parent
    while parent is not None:
        if parent.type in ("function_definition", "class_definition"):
            owners.append(_text(parent.child_by_field_name("name")))
        parent = parent.parent
    return owners[::-1]


def _defined_in_class(node: tree_sitter.Node) -> bool:
    block = node.parent
    return block is not None and block.parent is not None and block.parent.type == "class_definition"


def _docstring(node: tree_sitter.Node) -> str | None:
    body = node.child_by_field_name("body")
    if body is None or body.named_child_count == 0:
        return None
    first = body.named_children[0]
    if first.type == "expression_statement" and first.named_child_count and first.named_children[0].type == "string":
        content = [c for c in first.named_children[0].named_children if c.type == "string_content"]
        return "".join(_text(c) for c in content).strip() or None
    return None


def _from_import(node: tree_sitter.Node) -> Import:
    module_node = node.child_by_field_name("module_name")
    level, module = 0, ""
    if module_node is not None and module_node.type == "relative_import":
        prefix = next((c for c in module_node.children if c.type == "import_prefix"), None)
        level = len(_text(prefix)) if prefix is not None else 0
        dotted = next((c for c in module_node.children if c.type == "dotted_name"), None)
        module = _text(dotted) if dotted is not None else ""
    elif module_node is not None:
        module = _text(module_node)
    names, aliases = [], []
    for name_node in node.children_by_field_name("name"):
        aliased = name_node.type == "aliased_import"
        names.append(_text(name_node.child_by_field_name("name") if aliased else name_node))
        aliases.append(_text(name_node.child_by_field_name("alias")) if aliased else names[-1])
    return Import(module, level, tuple(names), tuple(aliases) if aliases != names else ())


def _module_imports(node: tree_sitter.Node) -> list[Import]:
    result = []
    for name_node in node.children_by_field_name("name"):
        target = name_node.child_by_field_name("name") if name_node.type == "aliased_import" else name_node
        result.append(Import(_text(target), 0, ()))
    return result


def _text(node: tree_sitter.Node | None) -> str:
    return "" if node is None or node.text is None else node.text.decode("utf-8", "replace")
