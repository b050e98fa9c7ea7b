"""Rank workspace definitions for a target: direct edges first, personalized PageRank for the rest.

The graph's nodes are definitions (path, qualname); an edge A -> B means A's body names B.
Classes and their methods are linked both ways (weakly), so ranking a method reaches its class.
Only the target's neighbourhood enters the graph: files it imports and that import it, nearest
first, up to a setting, which keeps one request cheap on a large workspace.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from lsp_server.config import ContextSettings
from lsp_server.context.resolve import Resolver, Symbol
from lsp_server.index.workspace import WorkspaceIndex

MEMBER_WEIGHT = 0.3
MIN_SCORE = 1e-3
"""PageRank leaves unreachable nodes a rounding-error score; below this they are not related."""


@dataclass
class Ranked:
    symbol: Symbol
    score: float
    reasons: list[str] = field(default_factory=list)
    direct: bool = False

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons) or "related by the symbol graph"


def rank(index: WorkspaceIndex, target: Symbol, settings: ContextSettings, resolver: Resolver | None = None, recent: set[str] = frozenset()) -> list[Ranked]:
    """Definitions related to ``target``, most relevant first; the target itself is left out."""
    resolver = resolver or Resolver(index)
    files = neighbourhood(index, target.path, settings.neighbourhood_files)
    graph = symbol_graph(resolver, files)
    ranked: dict[Symbol, Ranked] = {}
    for symbol, weight, why in direct_edges(resolver, target, files, settings):
        entry = ranked.setdefault(symbol, Ranked(symbol, 0.0, direct=True))
        if why not in entry.reasons:  # nested scopes of the target name the same symbol again
            entry.score += weight
            entry.reasons.append(why)
    for symbol, score in _pagerank(graph, target, settings).items():
        entry = ranked.setdefault(symbol, Ranked(symbol, 0.0))
        entry.score += settings.pagerank_weight * score
    ranked.pop(target, None)
    return _in_order(ranked, settings, recent)


def rank_file(index: WorkspaceIndex, path: str, settings: ContextSettings, resolver: Resolver | None = None,
              recent: set[str] = frozenset()) -> list[Ranked]:
    """Definitions related to the whole file ``path`` (every definition in it a seed), most relevant
    first; the file's own definitions are left out. What it ranks is the same for every target in
    the file: packed first, it is the prompt prefix their questions share (context/pack.py)."""
    resolver = resolver or Resolver(index)
    files = neighbourhood(index, path, settings.neighbourhood_files)
    ranked: dict[Symbol, Ranked] = {}

    def add(symbol: Symbol, weight: float, why: str) -> None:
        entry = ranked.setdefault(symbol, Ranked(symbol, 0.0, direct=True))
        entry.score += weight
        if why not in entry.reasons:
            entry.reasons.append(why)

    for symbol in sorted({s for used in resolver.scope_uses(path).values() for s in used if s.path != path}):
        add(symbol, settings.uses_weight, "used by this file")
    for other in files[1:]:
        facts = index.facts(other)
        for scope, used in sorted(resolver.scope_uses(other).items()):
            if scope and facts is not None and any(s.path == path for s in used):
                add(Symbol(other, scope), *_caller(facts, scope, settings, "this file"))
    graph = symbol_graph(resolver, files)
    outside = np.fromiter((n.path != path for n in graph.nodes), dtype=bool, count=len(graph.nodes))
    if settings.pagerank_weight > 0 and outside.any() and not outside.all():
        scores = personalized_pagerank(graph, list(np.flatnonzero(~outside)), settings.pagerank_alpha)
        top = scores[outside].max() or 1.0
        for i in np.flatnonzero(outside & (scores / top >= MIN_SCORE)):
            if graph.nodes[i].qualname:
                ranked.setdefault(graph.nodes[i], Ranked(graph.nodes[i], 0.0)).score += settings.pagerank_weight * float(scores[i] / top)
    return _in_order(ranked, settings, recent)


def _in_order(ranked: dict[Symbol, Ranked], settings: ContextSettings, recent: set[str]) -> list[Ranked]:
    """Recently edited files' definitions boosted; direct edges first, then by score."""
    for entry in ranked.values():
        if entry.symbol.path in recent:
            entry.score += settings.recent_weight
            entry.reasons.append("recently edited")
    return sorted(ranked.values(), key=lambda r: (not r.direct, -r.score, r.symbol))


def neighbourhood(index: WorkspaceIndex, path: str, limit: int) -> list[str]:
    """Files reachable from ``path`` over imports in either direction, breadth first."""
    seen, queue = {path: 0}, deque([path])
    while queue and len(seen) < limit:
        current = queue.popleft()
        for other in index.imports_of(current) + index.importers_of(current):
            if other not in seen and len(seen) < limit:
                seen[other] = seen[current] + 1
                queue.append(other)
    return list(seen)


@dataclass
class SymbolGraph:
    """Weighted edges between definitions, as index arrays into ``nodes`` (duplicates add up)."""

    nodes: list[Symbol]
    sources: np.ndarray
    targets: np.ndarray
    weights: np.ndarray


def symbol_graph(resolver: Resolver, files: list[str]) -> SymbolGraph:
    # Plain loops over lists: the neighbourhood of a module in a large workspace has hundreds
    # of thousands of edges, and this runs for every request.
    ids: dict[Symbol, int] = {}
    sources: list[int] = []
    targets: list[int] = []
    weights: list[float] = []
    for path in files:
        for scope, used in resolver.scope_uses(path).items():
            source = ids.setdefault(Symbol(path, scope), len(ids))
            targets += [ids.setdefault(symbol, len(ids)) for symbol in used]
            sources += [source] * len(used)
        weights += [1.0] * (len(sources) - len(weights))
        facts = resolver.index.facts(path)
        for definition in facts.definitions if facts else ():
            if "." in definition.qualname:
                member = ids.setdefault(Symbol(path, definition.qualname), len(ids))
                owner = ids.setdefault(Symbol(path, definition.qualname.rsplit(".", 1)[0]), len(ids))
                sources += [owner, member]
                targets += [member, owner]
                weights += [MEMBER_WEIGHT, MEMBER_WEIGHT]
    a, b = np.array(sources, dtype=np.int64), np.array(targets, dtype=np.int64)
    other = a != b  # a scope naming itself (recursion) is no edge
    return SymbolGraph(list(ids), a[other], b[other], np.array(weights)[other])


def personalized_pagerank(graph: SymbolGraph, seeds: list[int], alpha: float, tol: float = 1e-6, max_iter: int = 100) -> np.ndarray:
    """networkx.pagerank's power iteration (same normalisation, dangling nodes jump to the seeds,
    same stopping rule) on a sparse matrix built straight from the edge arrays: building a
    networkx graph and converting it back cost more than a second per request on a large
    workspace. Returns each node's score; all zeros if it does not converge."""
    n = len(graph.nodes)
    matrix = sparse.csr_array((graph.weights, (graph.sources, graph.targets)), shape=(n, n))  # sums duplicates
    out = np.asarray(matrix.sum(axis=1)).ravel()
    scale = np.divide(1.0, out, out=np.zeros(n), where=out != 0)
    matrix = sparse.csr_array(sparse.diags_array(scale) @ matrix)
    jump = np.zeros(n)
    jump[seeds] = 1.0 / len(seeds)
    dangling = np.flatnonzero(out == 0)
    scores = np.full(n, 1.0 / n)
    for _ in range(max_iter):
        previous = scores
        scores = alpha * (scores @ matrix + scores[dangling].sum() * jump) + (1 - alpha) * jump
        if np.abs(scores - previous).sum() < n * tol:
            return scores
    return np.zeros(n)


def _pagerank(graph: SymbolGraph, target: Symbol, settings: ContextSettings) -> dict[Symbol, float]:
    prefix = target.qualname + "."
    seeds = [i for i, n in enumerate(graph.nodes) if n == target or (n.path == target.path and n.qualname.startswith(prefix))]
    if not seeds or settings.pagerank_weight <= 0:
        return {}
    scores = personalized_pagerank(graph, seeds, settings.pagerank_alpha)
    top = scores.max() or 1.0
    # Normalised so the best non-seed scores 1: comparable with the direct-edge weights.
    keep = np.flatnonzero(scores / top >= MIN_SCORE)
    return {graph.nodes[i]: float(scores[i] / top) for i in keep if graph.nodes[i].qualname}


def direct_edges(resolver: Resolver, target: Symbol, files: list[str], settings: ContextSettings):
    """(symbol, weight, why) for what the target uses, its bases and overrides, callers and tests."""
    yield from _used_by(resolver, target, settings)
    yield from _bases_and_overrides(resolver, target, settings)
    yield from _callers(resolver, target, files, settings)


def _used_by(resolver: Resolver, target: Symbol, settings: ContextSettings):
    uses = resolver.scope_uses(target.path)
    inside = [scope for scope in uses if scope == target.qualname or scope.startswith(target.qualname + ".")]
    for scope in sorted(inside):
        for symbol in sorted(uses[scope]):
            if not _within(symbol, target):
                yield symbol, settings.uses_weight, "used by the target"


def _bases_and_overrides(resolver: Resolver, target: Symbol, settings: ContextSettings):
    facts = resolver.index.facts(target.path)
    if facts is None or facts.find(target.qualname) is None:
        return
    definition = facts.find(target.qualname)
    if definition.kind == "class":
        for base in resolver.bases(target):
            yield base, settings.base_weight, "base class of the target"
        return
    if definition.kind == "method":
        owner = Symbol(target.path, target.qualname.rsplit(".", 1)[0])
        yield owner, settings.base_weight, "class of the target"
        for base in resolver.bases(owner):
            yield base, settings.base_weight / 2, "base class of the target's class"
            for member in resolver.class_members(base):
                if member.qualname.rsplit(".", 1)[-1] == definition.name:
                    yield member, settings.base_weight, "overridden by the target"


def _callers(resolver: Resolver, target: Symbol, files: list[str], settings: ContextSettings):
    for path in files:
        facts = resolver.index.facts(path)
        if facts is None:
            continue
        for scope, used in sorted(resolver.scope_uses(path).items()):
            if target in used and scope and not _within(Symbol(path, scope), target):
                yield Symbol(path, scope), *_caller(facts, scope, settings, "the target")


def _caller(facts, scope: str, settings: ContextSettings, what: str) -> tuple[float, str]:
    """(weight, why) of a scope that uses ``what``: a test function of a test file tests it."""
    if facts.is_test_file and scope.rsplit(".", 1)[-1].startswith("test"):
        return settings.test_weight, f"tests {what}"
    return settings.caller_weight, f"uses {what}"


def _within(symbol: Symbol, target: Symbol) -> bool:
    return symbol.path == target.path and (symbol.qualname == target.qualname or symbol.qualname.startswith(target.qualname + "."))
