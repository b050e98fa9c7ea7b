"""Definitions and imports of one Python file, extracted with tree-sitter.

Candidates are found by regular expressions over the bytes and confirmed in the tree, which costs
a fraction of walking every node with a query (the index does this for every file). What is read
is kept in the types of ``lsp_server.index.symbols``.

Lines are 0-based like LSP's; columns are code points of the decoded line (the server converts
LSP's UTF-16 units before calling in).
"""

from __future__ import annotations

import operator
import re

import tree_sitter
import tree_sitter_python

from lsp_server.index.symbols import Definition, Import, ParsedFile, Scan

PYTHON = tree_sitter.Language(tree_sitter_python.language())
DOCSTRING_CHARS = 600
SIGNATURE_BYTES = 1000
"""Docstrings are kept for repository maps and summaries; the head says what matters."""


# Definitions and imports are found from candidates, each confirmed by one lookup in the tree:
# the words ``def``, ``class`` and ``import`` (bytes.find, C speed; ``def``/``class`` only where
# indentation or ``async`` alone precedes them on the line), and ``NAME =`` / ``NAME:`` lines at the
# indentation of the module or of a class body (patterns that start with a literal newline: one
# that starts with ``^``, an alternation or a look-behind is tried at every byte; three such
# patterns cost a quarter of the parse).
# A query over the whole tree visits every node of the file, which cost more than the parse itself.
# Each call into the tree from Python costs a fraction of a microsecond, so a definition makes as
# few as it can: kinds compared as numbers, fields by id, and the parent (which tree-sitter finds
# by walking down from the root) asked for only where an ``@`` could make it a decorated definition.
_NAME = rb"[A-Za-z_\x80-\xff][0-9A-Za-z_\x80-\xff]*"
_NAME_AFTER_KEYWORD = re.compile(rb"[ \t]+(" + _NAME + rb")")
_ASSIGNED = rb"(" + _NAME + rb")[ \t]*(?:=(?!=)|:)"
_FIRST_LINE_ASSIGNMENT = re.compile(_ASSIGNED)
_ASSIGNMENT_LINES: dict[bytes, re.Pattern] = {}
"""Indentation -> the pattern of ``NAME =`` / ``NAME:`` lines indented that much."""
_NAME_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") | frozenset(range(128, 256))
_QUOTES = frozenset(b"\"'")
_LINE_AND_BYTE, _FIRST = operator.itemgetter(3, 5), operator.itemgetter(0)  # sort keys called in C
_STRING_START = frozenset(b"\"'rRuUbBfF")


def _kinds(*names: str) -> frozenset[int]:
    """Every symbol id of the named node kinds (a grammar can give one kind several ids)."""
    return frozenset(i for i in range(PYTHON.node_kind_count) if PYTHON.node_kind_for_id(i) in names and PYTHON.node_kind_is_named(i))


_FUNCTION, _CLASS = _kinds("function_definition"), _kinds("class_definition")
_DEFINITION_KINDS = _FUNCTION | _CLASS
_DECORATED, _DECORATOR = _kinds("decorated_definition"), _kinds("decorator")
_EXPRESSION_STATEMENT, _ASSIGNMENT, _STRING_NODE = _kinds("expression_statement"), _kinds("assignment"), _kinds("string")
_NAME_NODES, _CALL = _kinds("identifier", "attribute"), _kinds("call")
_IMPORT_STATEMENTS, _FROM_IMPORT = _kinds("import_statement", "import_from_statement"), _kinds("import_from_statement")
_IMPORT_KEYWORD = PYTHON.id_for_node_kind("import", False)
_BODY, _SUPERCLASSES, _FUNCTION_FIELD = (PYTHON.field_id_for_name(f) for f in ("body", "superclasses", "function"))
_STRING_CONTENT = _kinds("string_content")


def parse_python(source: str | bytes) -> ParsedFile:
    data = source.encode("utf-8", "surrogatepass") if isinstance(source, str) else source
    return symbols_of_tree(data, tree_sitter.Parser(PYTHON).parse(data))


def symbols_of_tree(data: bytes, tree: tree_sitter.Tree) -> ParsedFile:
    """Definitions and imports of an already parsed tree (the index reuses trees across edits)."""
    scan = scan_tree(data, tree)
    return ParsedFile(data, scan.definitions, scan.imports, tree.root_node.has_error)


class _Found:
    """What a scan collects, filled in by the functions below."""

    def __init__(self) -> None:
        self.definitions: list[Definition] = []
        self.bases: dict[str, tuple[str, ...]] = {}
        self.decorators: dict[str, tuple[str, ...]] = {}
        self.name_spans: list[tuple[int, int]] = []


def scan_tree(data: bytes, tree: tree_sitter.Tree, start: int = 0, end: int | None = None, enclosing: list | None = None) -> Scan:
    """Definitions, imports, bases and decorators of the tree; of those starting in ``start..end``
    only when given, ``enclosing`` being the definitions around that span as (end byte, qualname, kind)."""
    window = (start, len(data) if end is None else end)
    root, found = tree.root_node, _Found()
    classes = _functions_and_classes(data, root, window, list(enclosing or []), found)
    _constants(data, root, window, "", found)
    for qualname, body in classes:
        _constants(data, body, None, qualname, found)
    found.definitions.sort(key=_LINE_AND_BYTE)
    imports = _read_imports(data, root, _import_statements(data, root, window))
    return Scan(tuple(found.definitions), tuple(i for i, _ in imports), found.bases, found.decorators, tuple(sorted(found.name_spans)),
                tuple(at for _, at in imports))


def _functions_and_classes(data: bytes, root: tree_sitter.Node, window: tuple[int, int], stack: list, found: _Found) -> list:
    """Every ``def`` and ``class`` in the window into ``found``; returns the classes' (qualname, body)."""
    classes = []
    previous = window[0]  # where the last definition starts: a decorator of the next one comes after it
    for start, match in _definition_candidates(data, window):
        node = root.descendant_for_byte_range(start, match.start(1) + 1)
        if node is None or node.start_byte != start or node.kind_id not in _DEFINITION_KINDS:
            continue
        while stack and stack[-1][0] <= start:
            stack.pop()
        name = match.group(1).decode("utf-8", "replace")
        is_class = node.kind_id in _CLASS
        kind = "class" if is_class else "method" if stack and stack[-1][2] == "class" else "function"
        qualname = f"{stack[-1][1]}.{name}" if stack else name
        outer = node
        if data.find(b"@", previous, start) >= 0:  # the tree's parent lookup walks down from the root: only where it can be decorated
            parent = node.parent
            if parent is not None and parent.kind_id in _DECORATED:
                outer = parent
        previous = start
        body = node.child_by_field_id(_BODY)
        end = node.end_byte
        signature = _signature(data, start, end if body is None else body.start_byte, body is None)
        found.definitions.append(Definition(name, kind, qualname, outer.start_point[0], node.end_point[0], outer.start_byte, end,
                                            _docstring(data, body), signature))
        found.name_spans.append(match.span(1))
        stack.append((end, qualname, kind))
        if is_class:
            _bases(data, node, qualname, found)
            if body is not None:
                classes.append((qualname, body))
        if outer is not node:
            _decorators(data, outer, qualname, found)
    return classes


def _definition_candidates(data: bytes, window: tuple[int, int]) -> list[tuple[int, re.Match]]:
    """(where the statement would start, the name's match) for each ``def NAME`` / ``class NAME``
    in the window that only indentation or ``async`` precedes on its line, in order."""
    candidates = []
    for keyword in (b"def", b"class"):
        for at in _words(data, keyword, window):
            match = _NAME_AFTER_KEYWORD.match(data, at + len(keyword))
            if match is None:
                continue
            line_start = data.rfind(b"\n", 0, at) + 1
            prefix = data[line_start:at].split()
            if not prefix:
                candidates.append((at, match))
            elif prefix == [b"async"]:
                candidates.append((data.index(b"async", line_start), match))
    candidates.sort(key=_FIRST)
    return candidates


def _words(data: bytes, word: bytes, window: tuple[int, int]) -> list[int]:
    """Where ``word`` occurs in ``data[window]`` as a whole word (bytes.find: C speed, where a
    regular expression without a literal start is tried at every byte)."""
    low, high = window
    found, at, size = [], data.find(word, low, high), len(word)
    while at >= 0:
        if (at == 0 or data[at - 1] not in _NAME_BYTES) and (at + size == len(data) or data[at + size] not in _NAME_BYTES):
            found.append(at)
        at = data.find(word, at + size, high)
    return found


def _constants(data: bytes, block: tree_sitter.Node, window: tuple[int, int] | None, owner: str, found: _Found) -> None:
    """``NAME = ...`` and ``NAME: type`` statements directly in a module (``owner`` "") or class body.

    Read from lines that start at the body's indentation: a statement after ``;`` or a class body
    on the class's own line (``class A: x = 1``) is not read (rare, and neither is a definition)."""
    if window is None:
        low, high = block.start_byte, block.end_byte
        indent = data[data.rfind(b"\n", 0, low) + 1 : low]
        if indent.strip():  # the body starts on the class's line (``class A: x = 1``)
            return
    else:
        (low, high), indent = window, b""
    pattern = _ASSIGNMENT_LINES.get(indent) or _ASSIGNMENT_LINES.setdefault(indent, re.compile(b"\n" + re.escape(indent) + _ASSIGNED))
    matches = list(pattern.finditer(data, max(0, data.rfind(b"\n", 0, low)), high))
    if low == 0 and (first := _FIRST_LINE_ASSIGNMENT.match(data)) is not None:
        matches.insert(0, first)
    for match in matches:
        at = match.start(1)
        if at < low:
            continue
        statement = block.first_named_child_for_byte(at)
        if statement is None or statement.start_byte != at or statement.kind_id not in _EXPRESSION_STATEMENT:
            continue
        assignment = statement.named_child(0)
        if assignment is None or assignment.kind_id not in _ASSIGNMENT:
            continue
        name = match.group(1).decode("utf-8", "replace")
        statement_end = statement.end_byte
        signature = data[at : min(statement_end, at + 800)].decode("utf-8", "replace").split("\n", 1)[0][:200]
        found.definitions.append(Definition(name, "constant", f"{owner}.{name}" if owner else name, statement.start_point[0], statement.end_point[0],
                                            at, statement_end, None, signature))
        found.name_spans.append(match.span(1))


def _bases(data: bytes, node: tree_sitter.Node, qualname: str, found: _Found) -> None:
    superclasses = node.child_by_field_id(_SUPERCLASSES)
    if superclasses is not None:
        names = [_last_part(data, c) for c in superclasses.named_children if c.kind_id in _NAME_NODES]
        if names:
            found.bases[qualname] = tuple(names)


def _decorators(data: bytes, outer: tree_sitter.Node, qualname: str, found: _Found) -> None:
    names = []
    for decorator in outer.named_children:
        expression = _first_named(decorator) if decorator.kind_id in _DECORATOR else None
        if expression is not None and expression.kind_id in _CALL:
            expression = expression.child_by_field_id(_FUNCTION_FIELD)
        if expression is not None and expression.kind_id in _NAME_NODES:
            names.append(_last_part(data, expression))
    if names:
        found.decorators[qualname] = tuple(names)


def _first_named(node: tree_sitter.Node | None) -> tree_sitter.Node | None:
    return node.named_child(0) if node is not None else None


def _last_part(data: bytes, node: tree_sitter.Node) -> str:
    return _slice(data, node).rsplit(".", 1)[-1]


def _import_statements(data: bytes, root: tree_sitter.Node, window: tuple[int, int]) -> list[tuple]:
    """The import statements in the window as (``import`` keyword at, start, end, is_from, has_error)."""
    found, seen = [], set()
    for at in _words(data, b"import", window):
        keyword = root.descendant_for_byte_range(at, at + 6)
        if keyword is None or keyword.kind_id != _IMPORT_KEYWORD:
            continue
        statement = keyword.parent
        if statement is None or statement.kind_id not in _IMPORT_STATEMENTS or statement.start_byte in seen:
            continue
        seen.add(statement.start_byte)
        found.append((at, statement.start_byte, statement.end_byte, statement.kind_id in _FROM_IMPORT, statement.has_error))
    return found


def _read_imports(data: bytes, root: tree_sitter.Node, statements: list[tuple]) -> list[tuple[Import, int]]:
    """The imports of each statement with where it starts: from its text, or from its tree where it
    has errors."""
    found = []
    for at, start, end, is_from, has_error in statements:
        if has_error:
            statement = root.descendant_for_byte_range(at, at + 6).parent
            imported = [_from_import(statement)] if is_from else _module_imports(statement)
        else:
            imported = _imports_in_text(data[start:end], is_from)
        found += [(imp, start) for imp in imported]
    return found


def outer_node(node: tree_sitter.Node) -> tree_sitter.Node:
    """The decorated_definition around ``node`` when it has decorators, else ``node``."""
    parent = node.parent
    return parent if parent is not None and parent.type == "decorated_definition" else node


def _slice(data: bytes, node: tree_sitter.Node) -> str:
    return data[node.start_byte : node.end_byte].decode("utf-8", "replace")


def _signature(data: bytes, start: int, end: int, bodiless: bool) -> str:
    # Headers can run to pages (parameters documented inline); a map line needs the start.
    header = data[start : min(end, start + SIGNATURE_BYTES)].decode("utf-8", "replace")
    if bodiless:
        return header.split("\n", 1)[0]
    return " ".join(header.split()) + (" ...:" if end - start > SIGNATURE_BYTES else "")


def _docstring(data: bytes, body: tree_sitter.Node | None) -> str | None:
    """The text of the string that opens ``body``, without its quotes, stripped and cut to
    ``DOCSTRING_CHARS``. Only a body whose first byte can start a string is looked at in the tree."""
    if body is None or body.start_byte >= len(data) or data[body.start_byte] not in _STRING_START:
        return None
    statement = body.named_child(0)
    if statement is None or statement.kind_id not in _EXPRESSION_STATEMENT:
        return None
    string = statement.named_child(0)
    if string is None or string.kind_id not in _STRING_NODE:
        return None
    text = _string_content(data, string.start_byte, string.end_byte)
    if text is None:
        return _joined_content(data, string)
    return text[:DOCSTRING_CHARS] or None


def _string_content(data: bytes, start: int, end: int) -> str | None:
    """The content of a plain string literal from its bytes, or None when it is not that simple."""
    at = start
    while at < end and data[at] not in _QUOTES:
        at += 1
    quote = data[at : at + 3]
    width = 3 if len(quote) == 3 and quote[0] == quote[1] == quote[2] else 1
    if end - at < 2 * width or data[end - width : end] != data[at : at + width] or b"f" in data[start:at].lower():
        return None
    return data[at + width : min(end - width, at + width + 4 * DOCSTRING_CHARS)].decode("utf-8", "replace").strip()


def _joined_content(data: bytes, string: tree_sitter.Node) -> str | None:
    """An f-string's text parts (its fields left out), as the tree has them."""
    content = [c for c in string.named_children if c.kind_id in _STRING_CONTENT]
    return "".join(_slice(data, c) for c in content).strip()[:DOCSTRING_CHARS] or None


# A statement without errors is read from its text: a few string operations instead of a dozen
# calls into the tree for each name.
_LINE_NOISE = re.compile(rb"#[^\n]*|\\\r?\n|[()]")
_FROM_MODULE = re.compile(r"from\s*(\.*)\s*((?:[^\W\d]\w*)(?:\s*\.\s*[^\W\d]\w*)*)?\s*import\b(.*)", re.S)


def _imports_in_text(statement: bytes, is_from: bool) -> list[Import]:
    text = _LINE_NOISE.sub(b" ", statement).decode("utf-8", "replace")
    if not is_from:
        parts = [part.split() for part in text[text.index("import") + 6 :].split(",") if part.strip()]
        return [Import(_before_as(words), 0, (), tuple(words[words.index("as") + 1:][:1]) if "as" in words else ())
                for words in parts]
    match = _FROM_MODULE.match(text)
    if match is None:
        return []
    names, aliases = [], []
    for part in match.group(3).split(","):
        words = part.split()
        if words and words != ["*"]:
            names.append(words[0])
            aliases.append(words[2] if len(words) == 3 and words[1] == "as" else words[0])
    return [Import(_dotted(match.group(2) or ""), len(match.group(1)), tuple(names), tuple(aliases) if aliases != names else ())]


def _dotted(text: str) -> str:
    return "".join(text.split())


def _before_as(words: list[str]) -> str:
    """``a . b as c`` -> ``a.b``."""
    return "".join(words[: words.index("as")] if "as" in words else words)


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
        aliased = name_node.type == "aliased_import"
        target = name_node.child_by_field_name("name") if aliased else name_node
        alias = (_text(name_node.child_by_field_name("alias")),) if aliased else ()
        result.append(Import(_text(target), 0, (), alias))  # ``import m as x``: aliases ("x",)
    return result


def _text(node: tree_sitter.Node | None) -> str:
    return "" if node is None or node.text is None else node.text.decode("utf-8", "replace")
