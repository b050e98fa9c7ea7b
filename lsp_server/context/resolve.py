"""Names used in a scope -> the workspace definitions they point to.

A static approximation of what jedi's goto does, cheap enough to run over hundreds of files:
imports (following re-exports), the file's own definitions, methods of the enclosing class and
its bases, and members of the classes and modules the file imports. Attribute names on unknown
objects resolve to same-named methods of those classes, or of the file's own classes, which is
what a reader would look up.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from lsp_server.index.facts import FileFacts
from lsp_server.index.workspace import WorkspaceIndex

REEXPORT_DEPTH = 3


class Symbol(NamedTuple):
    """A definition: its file and dotted name ("" for a module's top level).

    A tuple, not a dataclass: graphs hash tens of thousands of these per request."""

    path: str
    qualname: str


class Resolver:
    """Resolves names per file, caching each result with the facts it read.

    A cached result stays valid while every file it read still has the same facts object and no
    file came or went; so an edit re-resolves the edited file and the files that read it only.
    """

    def __init__(self, index: WorkspaceIndex) -> None:
        self.index = index
        self._names_cache: dict[str, tuple[int, dict, dict[str, Symbol]]] = {}
        self._uses_cache: dict[str, tuple[int, dict, dict[str, set[Symbol]]]] = {}
        self._reads: dict[str, FileFacts | None] | None = None
        self._members_cache: dict[str, tuple[FileFacts, dict[str, Symbol]]] = {}

    def _facts(self, path: str) -> FileFacts | None:
        facts = self.index.facts(path)
        if self._reads is not None:
            self._reads[path] = facts
        return facts

    def _cached(self, store: dict, path: str, compute):
        entry = store.get(path)
        if entry is not None and entry[0] == self.index.files_shape and all(self.index.facts(p) is f for p, f in entry[1].items()):
            if self._reads is not None:
                self._reads.update(entry[1])
            return entry[2]
        outer, self._reads = self._reads, {}
        try:
            value = compute()
        finally:
            reads, self._reads = self._reads, outer
        if outer is not None:
            outer.update(reads)
        store[path] = (self.index.files_shape, reads, value)
        return value

    def scope_uses(self, path: str) -> dict[str, set[Symbol]]:
        """Each scope of ``path`` -> the workspace definitions its names resolve to (cached)."""
        return self._cached(self._uses_cache, path, lambda: self._resolve_uses(path))

    def _resolve_uses(self, path: str) -> dict[str, set[Symbol]]:
        facts, names = self._facts(path), self._names(path)
        if facts is None:
            return {}
        return {
            scope: {names[n] for n in used if n in names and names[n] != Symbol(path, scope)}
            for scope, used in facts.uses.items()
        } | self._method_uses(facts, names)

    def _method_uses(self, facts: FileFacts, names: dict[str, Symbol]) -> dict[str, set[Symbol]]:
        """Inside a method, ``self.x`` names members of its class and of the bases."""
        result: dict[str, set[Symbol]] = {}
        classes = {d.qualname for d in facts.definitions if d.kind == "class"}
        members_of: dict[str, dict[str, Symbol]] = {}
        for scope, used in facts.uses.items():
            owner = scope.rsplit(".", 1)[0] if "." in scope else None
            if owner not in classes:
                continue
            if owner not in members_of:
                members_of[owner] = {m.qualname.rsplit(".", 1)[-1]: m for m in reversed(self.class_members(Symbol(facts.path, owner)))}
            members = members_of[owner]
            found = {members[n] for n in used if n in members}
            found |= {names[n] for n in used if n in names}
            result[scope] = {s for s in found if s != Symbol(facts.path, scope)}
        return result

    def class_members(self, cls: Symbol, depth: int = 0) -> list[Symbol]:
        """Methods and attributes of ``cls`` and its workspace bases (nearest first)."""
        facts = self._facts(cls.path)
        if facts is None or depth > REEXPORT_DEPTH:
            return []
        prefix = cls.qualname + "."
        own = [Symbol(cls.path, d.qualname) for d in facts.definitions if d.qualname.startswith(prefix) and "." not in d.qualname[len(prefix):]]
        for base in self.bases(cls):
            own += self.class_members(base, depth + 1)
        return own

    def bases(self, cls: Symbol) -> list[Symbol]:
        facts = self._facts(cls.path)
        if facts is None:
            return []
        names = self._names(cls.path)
        return [names[b] for b in facts.bases.get(cls.qualname, ()) if b in names and names[b] != cls]

    def _names(self, path: str) -> dict[str, Symbol]:
        """Every name visible in ``path`` that means a workspace definition."""

        def compute() -> dict[str, Symbol]:
            facts = self._facts(path)
            return self._visible_names(facts, 0) if facts is not None else {}

        return self._cached(self._names_cache, path, compute)

    def _visible_names(self, facts: FileFacts, depth: int) -> dict[str, Symbol]:
        names: dict[str, Symbol] = {}
        for module_file in self.index.imports_of(facts.path):
            names.update(self._members_of_module(module_file))
        # Attributes on objects of the file's own classes (``ctx.exit()`` next to ``class Context``)
        # are likelier than same-named methods elsewhere; imported and defined names still win.
        names.update(self._members_of_module(facts.path))
        for imp in facts.imports:
            module_file = self.index.resolve_import(imp, facts.path)
            if module_file is None:
                continue
            for local, imported in imp.local_names().items():
                symbol = self._exported(module_file, imported, depth)
                if symbol is not None:
                    names[local] = symbol
        names.update({d.name: Symbol(facts.path, d.qualname) for d in facts.definitions if "." not in d.qualname})
        return names

    def _members_of_module(self, module_file: str) -> dict[str, Symbol]:
        """Members an attribute on the module or on its classes' instances may name (read-only:
        kept while the module's facts are the same object, since every file importing the
        module asks again)."""
        facts = self._facts(module_file)
        if facts is None:
            return {}
        kept = self._members_cache.get(module_file)
        if kept is not None and kept[0] is facts:
            return kept[1]
        members = {d.name: Symbol(module_file, d.qualname) for d in facts.definitions if d.qualname.count(".") == 1 and d.kind == "method"}
        members.update({d.name: Symbol(module_file, d.qualname) for d in facts.definitions if "." not in d.qualname})
        self._members_cache[module_file] = (facts, members)
        return members

    def _exported(self, module_file: str, name: str, depth: int) -> Symbol | None:
        """``name`` as defined in ``module_file``, following ``from x import name`` re-exports."""
        facts = self._facts(module_file)
        if facts is None or depth > REEXPORT_DEPTH:
            return None
        definition = facts.find(name)
        if definition is not None:
            return Symbol(module_file, definition.qualname)
        for imp in facts.imports:
            if name in imp.local_names():
                target = self.index.resolve_import(imp, module_file)
                if target is not None:
                    return self._exported(target, imp.local_names()[name], depth + 1)
        return None


def referenced_by_tests(index: WorkspaceIndex, path: Path, text: str) -> set[str]:
    """Top-level names of ``path`` that code in test files resolves to, through the index's import
    links; ``text`` is indexed first when the index has not read the file."""
    facts = index.facts(path) or index.update_text(path, text, edited=False)
    resolver = Resolver(index)
    names: set[str] = set()
    for other in index.importers_of(facts.path):
        other_facts = index.facts(other)
        if other_facts is not None and other_facts.is_test_file:
            for used in resolver.scope_uses(other).values():
                names |= {s.qualname.split(".")[0] for s in used if s.path == facts.path}
    return names
