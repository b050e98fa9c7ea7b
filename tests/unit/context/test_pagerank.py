"""Our sparse personalized PageRank against networkx's, on random graphs with repeated edges and
nodes that link nowhere."""

from __future__ import annotations

import networkx
import numpy as np
import pytest

from lsp_server.context.rank import SymbolGraph, personalized_pagerank
from lsp_server.context.resolve import Symbol


@pytest.mark.parametrize("seed", range(8))
def test_scores_match_networkx(seed):
    rng = np.random.default_rng(seed)
    n, edges = 300, 1500
    nodes = [Symbol(f"/w/m{i % 7}.py", f"f{i}") for i in range(n)]
    sources, targets = rng.integers(0, n, edges), rng.integers(0, n // 2, edges)  # half the nodes link nowhere
    keep = sources != targets
    sources, targets = sources[keep], targets[keep]
    weights = rng.choice([1.0, 0.3], sources.size)
    seeds = [3, 17]
    ours = personalized_pagerank(SymbolGraph(nodes, sources, targets, weights), seeds, alpha=0.85)

    graph = networkx.DiGraph()
    graph.add_nodes_from(range(n))
    for a, b, w in zip(sources.tolist(), targets.tolist(), weights.tolist()):
        previous = graph.get_edge_data(a, b, {"weight": 0.0})["weight"]
        graph.add_edge(a, b, weight=previous + w)
    theirs = networkx.pagerank(graph, alpha=0.85, personalization={s: 1.0 for s in seeds}, weight="weight")
    assert np.allclose(ours, [theirs[i] for i in range(n)], atol=1e-6)
    assert ours[seeds].min() > np.median(ours)  # the seeds rank high: the test is not trivially zero
