"""What the index keeps of one Python file: its definitions and imports (``python_symbols`` reads
them from a tree-sitter tree).

Lines are 0-based like LSP's; columns are code points of the decoded line (the server converts
LSP's UTF-16 units before calling in).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple


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
    """The local name of each imported name (``from m import a as b`` -> ``b``), only when some
    differ; for ``import m as x``, ``("x",)``."""

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

