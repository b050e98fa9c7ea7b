from pathlib import Path

import pytest

from lsp_server.config import ContextSettings
from lsp_server.context.rank import rank, rank_file
from lsp_server.context.resolve import Resolver, Symbol
from lsp_server.index.workspace import WorkspaceIndex

from .indexed import indexed

FILES = {
    "shop/__init__.py": "from .base import Store\n",
    "shop/base.py": (
        "class Store:\n"
        "    def price(self, item):\n"
        "        return 0\n\n"
        "    def describe(self):\n"
        "        return 'store'\n"
    ),
    "shop/tax.py": "RATE = 0.2\n\ndef with_tax(amount):\n    return amount * (1 + RATE)\n",
    "shop/grocer.py": (
        "from shop import Store\n"
        "from shop.tax import with_tax\n\n"
        "class Grocer(Store):\n"
        "    def price(self, item):\n"
        "        return with_tax(self.lookup(item))\n\n"
        "    def lookup(self, item):\n"
        "        return 1\n"
    ),
    "shop/checkout.py": (
        "from shop.grocer import Grocer\n\n"
        "def checkout(items):\n"
        "    g = Grocer()\n"
        "    return sum(g.price(i) for i in items)\n"
    ),
    "tests/test_grocer.py": (
        "from shop.grocer import Grocer\n\n"
        "def test_price():\n"
        "    assert Grocer().price('apple') > 0\n\n"
        "def test_unrelated():\n"
        "    assert True\n"
    ),
}


@pytest.fixture
def index(tmp_path: Path) -> WorkspaceIndex:
    return indexed(tmp_path, FILES)


def sym(index: WorkspaceIndex, relative: str, qualname: str) -> Symbol:
    return Symbol(str(index.roots[0] / relative), qualname)


def reasons(index, target) -> dict[tuple[str, str], str]:
    root = str(index.roots[0]) + "/"
    return {(r.symbol.path.removeprefix(root), r.symbol.qualname): r.reason for r in rank(index, target, ContextSettings())}


def test_direct_edges_of_a_method(index):
    found = reasons(index, sym(index, "shop/grocer.py", "Grocer.price"))
    assert found[("shop/tax.py", "with_tax")] == "used by the target"
    assert found[("shop/grocer.py", "Grocer.lookup")] == "used by the target"
    assert found[("shop/base.py", "Store.price")] == "overridden by the target"
    assert "base class of the target's class" in found[("shop/base.py", "Store")]
    assert found[("shop/checkout.py", "checkout")] == "uses the target"
    assert found[("tests/test_grocer.py", "test_price")] == "tests the target"
    assert ("tests/test_grocer.py", "test_unrelated") not in found


def test_direct_edges_come_before_pagerank_and_reach_second_hops(index):
    ranked = rank(index, sym(index, "shop/grocer.py", "Grocer.price"), ContextSettings())
    direct = [r.direct for r in ranked]
    assert direct == sorted(direct, reverse=True), "every direct edge ranks above graph-only symbols"
    rate = next(r for r in ranked if r.symbol.qualname == "RATE")
    assert not rate.direct and rate.score > 0  # used by with_tax, two hops from the target


def test_re_exports_are_followed_to_the_definition(index):
    resolver = Resolver(index)
    assert resolver.bases(sym(index, "shop/grocer.py", "Grocer")) == [sym(index, "shop/base.py", "Store")]


def test_weights_are_settings(index):
    target = sym(index, "shop/grocer.py", "Grocer.price")
    heavy_tests = ContextSettings(test_weight=10.0)
    first = rank(index, target, heavy_tests)[0]
    assert first.symbol.qualname == "test_price"


def test_recently_edited_files_rank_higher(index):
    target = sym(index, "shop/grocer.py", "Grocer.price")
    plain = {r.symbol.qualname: r.score for r in rank(index, target, ContextSettings())}
    recent = str(index.roots[0] / "shop/checkout.py")
    boosted = {r.symbol.qualname: r for r in rank(index, target, ContextSettings(), recent={recent})}
    assert boosted["checkout"].score > plain["checkout"]
    assert "recently edited" in boosted["checkout"].reason


def test_ranked_for_a_file_what_its_definitions_use_and_what_uses_them(index):
    """rank_file: the same list whichever definition of the file is asked about (the shared prefix)."""
    root = str(index.roots[0]) + "/"
    ranked = rank_file(index, root + "shop/grocer.py", ContextSettings())
    found = {(r.symbol.path.removeprefix(root), r.symbol.qualname): r.reason for r in ranked}
    assert found[("shop/tax.py", "with_tax")] == "used by this file"
    assert found[("shop/checkout.py", "checkout")] == "uses this file"
    assert found[("tests/test_grocer.py", "test_price")] == "tests this file"
    assert not any(path == "shop/grocer.py" for path, _ in found)  # the file's own code is the current file
    assert ("tests/test_grocer.py", "test_unrelated") not in found or not next(
        r for r in ranked if r.symbol.qualname == "test_unrelated").direct
