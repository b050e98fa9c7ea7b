"""Definitions and imports of one Python file, extracted with tree-sitter.

Candidates are found by regular expressions over the bytes and confirmed in the tree, which costs
a fraction of walking every node with a query (the index does this for every file).

Lines are 0-based like LSP's; columns are code points of the decoded line (the server converts
LSP's UTF-16 units before calling in).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import tree_sitter
import tree_sitter_python

PYTHON = tree_sitter.Language(tree_sitter_python.language())
DOCSTRING_CHARS = 600
SIGNATURE_BYTES = 1000
"""Docstrings are kept for repository maps and summaries; the head says what matters."""


class Definition(NamedTuple):
    """A tuple, not a dataclass: the index holds and caches hundreds of thousands of these."""

    name: str
    kind: str
    """"function", "method", "class" or "constant" (a name assigned at module level or in a class body)."""
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

    def __reduce__(self):
        # As for Definition: a warm start unpickles the imports of every file in the workspace.
        return (tuple.__new__, (Import, tuple(self)))


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


# Definitions and imports are found from candidates: the places where "def", "class" and "import"
# occur (bytes.find, C speed), each confirmed by one lookup in the tree; module-level constants are
# among the module's direct children. A query over the whole tree visits every node of the file,
# which cost more than the parse itself.
_NAME_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") | frozenset(range(128, 256))
_IMPORT_NODES = ("import_statement", "import_from_statement")


@dataclass(frozen=True)
class Scan:
    """Everything one pass over a tree finds; ``ParsedFile`` keeps the public part."""

    definitions: tuple[Definition, ...]
    imports: tuple[Import, ...]
    bases: dict[str, tuple[str, ...]]
    """Class qualname -> its base classes' last name part (``abc.ABC`` -> ``ABC``)."""
    decorators: dict[str, tuple[str, ...]]
    """Definition qualname -> its decorators' last name part (``@app.route(...)`` -> ``route``)."""
    name_spans: tuple[tuple[int, int], ...]
    """Byte spans of the names being defined (a definition, not a use of the name)."""
    import_starts: tuple[int, ...] = ()
    """Where the statement of each import starts (re-reading one edited region needs them)."""


def parse_python(source: str | bytes) -> ParsedFile:
    data = source.encode("utf-8", "surrogatepass") if isinstance(source, str) else source
    return symbols_of_tree(data, tree_sitter.Parser(PYTHON).parse(data))


def symbols_of_tree(data: bytes, tree: tree_sitter.Tree) -> ParsedFile:
    """Definitions and imports of an already parsed tree (the index reuses trees across edits)."""
    scan = scan_tree(data, tree)
    return ParsedFile(data, scan.definitions, scan.imports, tree.root_node.has_error)


def scan_tree(data: bytes, tree: tree_sitter.Tree, start: int = 0, end: int | None = None, enclosing: list | None = None) -> Scan:
    """Definitions, imports, bases and decorators of the tree; of those starting in ``start..end``
    only when given, ``enclosing`` being the definitions around that span as (end byte, qualname, kind)."""
    root = tree.root_node
    window = (start, len(data) if end is None else end)
    scopes = list(_definition_nodes(data, root, window))
    classes = [n.child_by_field_name("body") for n in scopes if n.type == "class_definition"]
    nodes = [(n, "") for n in scopes] + [(n, "constant") for n in _constant_nodes(root, window)]
    nodes += [(n, "constant") for body in classes if body is not None for n in _assignments(body)]
    nodes.sort(key=lambda item: item[0].start_byte)
    definitions, bases, decorators, name_spans = [], {}, {}, []
    stack: list[tuple[int, str, str]] = list(enclosing or [])  # (end byte, qualname, kind) of the enclosing definitions
    for node, constant in nodes:
        while stack and stack[-1][0] <= node.start_byte:
            stack.pop()
        found = _definition(data, node, constant or node.type.split("_", 1)[0], stack)
        if found is None:
            continue
        definition, outer, name_node = found
        definitions.append(definition)
        name_spans.append((name_node.start_byte, name_node.end_byte))
        if definition.kind != "constant":
            stack.append((node.end_byte, definition.qualname, definition.kind))
            _bases_and_decorators(data, node, outer, definition.qualname, bases, decorators)
    definitions.sort(key=lambda d: (d.start_line, d.start_byte))
    imports = _imports(data, root, window)
    return Scan(tuple(definitions), tuple(i for i, _ in imports), bases, decorators, tuple(name_spans), tuple(at for _, at in imports))


def _definition_nodes(data: bytes, root: tree_sitter.Node, window: tuple[int, int]):
    for keyword in (b"def", b"class"):
        for at in _occurrences(data, keyword, window):
            after = at + len(keyword)
            if after >= len(data) or data[after] not in b" \t":
                continue
            line_start = data.rfind(b"\n", 0, at) + 1
            prefix = data[line_start:at].split()
            if prefix not in ([], [b"async"]):
                continue
            start = at if not prefix else data.index(b"async", line_start)
            while after < len(data) and data[after] in b" \t":
                after += 1
            node = root.descendant_for_byte_range(start, after + 1)
            if node is not None and node.type in ("function_definition", "class_definition") and node.start_byte == start:
                yield node


def _occurrences(data: bytes, word: bytes, window: tuple[int, int]):
    """Offsets of ``word`` in ``data[window]`` as a whole word."""
    at = data.find(word, *window)
    while at >= 0:
        if at == 0 or data[at - 1] not in _NAME_BYTES:
            yield at
        at = data.find(word, at + 1, window[1])


def _constant_nodes(root: tree_sitter.Node, window: tuple[int, int]):
    """Module-level ``NAME = ...`` and ``NAME: type`` statements."""
    return _assignments(root, window)


def _assignments(block: tree_sitter.Node, window: tuple[int, int] | None = None):
    """``NAME = ...`` and ``NAME: type`` statements directly in a module or class body."""
    for statement in block.named_children:
        if statement.type != "expression_statement" or (window is not None and not window[0] <= statement.start_byte < window[1]):
            continue
        assignment = _first_named(statement)
        if assignment is not None and assignment.type == "assignment":
            left = assignment.child_by_field_name("left")
            if left is not None and left.type == "identifier":
                yield statement


def _definition(data: bytes, node: tree_sitter.Node, kind: str, stack: list) -> tuple[Definition, tree_sitter.Node, tree_sitter.Node] | None:
    if kind == "constant":
        name_node = node.named_child(0).child_by_field_name("left")
        outer, qualname = node, _slice(data, name_node)
        if stack:  # a class attribute: the only assignments read inside definitions
            qualname = f"{stack[-1][1]}.{qualname}"
        signature = data[node.start_byte : min(node.end_byte, node.start_byte + 800)].decode("utf-8", "replace").split("\n", 1)[0][:200]
        docstring = None
    else:
        name_node = node.child_by_field_name("name")
        if name_node is None:
            return None
        outer = outer_node(node)
        name = _slice(data, name_node)
        qualname = f"{stack[-1][1]}.{name}" if stack else name
        if kind == "function" and stack and stack[-1][2] == "class" and _defined_in_class(outer):
            kind = "method"
        signature, docstring = _signature(data, node), (_docstring(data, node) or "")[:DOCSTRING_CHARS] or None
    definition = Definition(
        name=_slice(data, name_node),
        kind=kind,
        qualname=qualname,
        start_line=outer.start_point.row,
        end_line=outer.end_point.row,
        start_byte=outer.start_byte,
        end_byte=outer.end_byte,
        docstring=docstring,
        signature=signature,
    )
    return definition, outer, name_node


def _bases_and_decorators(data: bytes, node, outer, qualname: str, bases: dict, decorators: dict) -> None:
    superclasses = node.child_by_field_name("superclasses") if node.type == "class_definition" else None
    if superclasses is not None:
        names = [_last_part(data, c) for c in superclasses.named_children if c.type in ("identifier", "attribute")]
        if names:
            bases[qualname] = tuple(names)
    if outer is node:
        return
    names = []
    for decorator in outer.named_children:
        expression = _first_named(decorator) if decorator.type == "decorator" else None
        if expression is not None and expression.type == "call":
            expression = expression.child_by_field_name("function")
        if expression is not None and expression.type in ("identifier", "attribute"):
            names.append(_last_part(data, expression))
    if names:
        decorators[qualname] = tuple(names)


def _first_named(node: tree_sitter.Node | None) -> tree_sitter.Node | None:
    return node.named_child(0) if node is not None and node.named_child_count else None


def _last_part(data: bytes, node: tree_sitter.Node) -> str:
    return _slice(data, node).rsplit(".", 1)[-1]


def _imports(data: bytes, root: tree_sitter.Node, window: tuple[int, int]) -> list[tuple[Import, int]]:
    found, seen = [], set()
    for at in _occurrences(data, b"import", window):
        keyword = root.descendant_for_byte_range(at, at + len(b"import"))
        if keyword is None or keyword.type != "import":
            continue
        statement = keyword.parent
        if statement is None or statement.type not in _IMPORT_NODES or statement.start_byte in seen:
            continue
        seen.add(statement.start_byte)
        imported = [_from_import(statement)] if statement.type == "import_from_statement" else _module_imports(statement)
        found += [(imp, statement.start_byte) for imp in imported]
    return found


def outer_node(node: tree_sitter.Node) -> tree_sitter.Node:
    """The decorated_definition around ``node`` when it has decorators, else ``node``."""
    parent = node.parent
    return parent if parent is not None and parent.type == "decorated_definition" else node


def _slice(data: bytes, node: tree_sitter.Node) -> str:
    return data[node.start_byte : node.end_byte].decode("utf-8", "replace")


def _signature(data: bytes, node: tree_sitter.Node) -> str:
    body = node.child_by_field_name("body")
    end = node.end_byte if body is None else body.start_byte
    # Headers can run to pages (parameters documented inline); a map line needs the start.
    header = data[node.start_byte : min(end, node.start_byte + SIGNATURE_BYTES)].decode("utf-8", "replace")
    if body is None:
        return header.split("\n", 1)[0]
    return " ".join(header.split()) + (" ...:" if end - node.start_byte > SIGNATURE_BYTES else "")


def _defined_in_class(node: tree_sitter.Node) -> bool:
    block = node.parent
    return block is not None and block.parent is not None and block.parent.type == "class_definition"


def _docstring(data: bytes, node: tree_sitter.Node) -> str | None:
    body = node.child_by_field_name("body")
    first = _first_named(body)
    if first is None or first.type != "expression_statement":
        return None
    string = _first_named(first)
    if string is None or string.type != "string":
        return None
    content = [c for c in string.named_children if c.type == "string_content"]
    return "".join(_slice(data, c) for c in content).strip() or None


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
