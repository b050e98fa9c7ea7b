"""Which imports the workspace offers an answer: the target module's namespace and the context's modules."""

from pathlib import Path

from lsp_server.actions import generate_tests
from lsp_server.actions.known_names import known_imports, package_of, workspace_names
from lsp_server.context.pack import PackedContext
from lsp_server.context.target import find_target
from lsp_server.index.python_symbols import parse_python

ROOT = Path("/w")
MANIFEST = [
    {"section": "related", "path": "shop/cart.py", "symbol": "Cart"},
    {"section": "repo map", "path": "src/shop/tax.py", "symbol": "vat"},
    {"section": "related", "path": "shop/cart.py", "symbol": "Cart.total"},  # a member: not importable alone
    {"section": "left out", "path": "tests/test_cart.py", "symbol": "make_cart"},
    {"section": "related", "path": "shop/conftest.py", "symbol": "cart"},
    {"section": "related", "path": "/elsewhere/lib.py", "symbol": "helper"},
    {"section": "current file", "path": "shop/pricing.py", "symbol": None},
    {"section": "target", "path": "shop/pricing.py", "symbol": "apply_discount"},
]
PRICING = "from .money import cents\n\n\ndef _round(x):\n    return x\n\n\ndef apply_discount(price, percent):\n    return _round(price)\n"


def test_workspace_names_are_top_level_definitions_of_non_test_modules():
    assert workspace_names(MANIFEST, ROOT) == [("shop.cart", "Cart"), ("shop.tax", "vat")]


def test_packages_start_relative_imports():
    assert package_of(Path("/w/shop/pricing.py"), ROOT) == "shop"
    assert package_of(Path("/w/shop/__init__.py"), ROOT) == "shop"
    assert package_of(Path("/w/top.py"), ROOT) == ""


def _packed(path: Path) -> PackedContext:
    target = find_target(path, PRICING, parse_python(PRICING), (8, 4), (8, 4))
    return PackedContext(target, [], MANIFEST)


def test_known_imports_join_the_module_and_the_workspace():
    known = known_imports(_packed(Path("/w/shop/pricing.py")), ROOT, PRICING)
    assert known["cents"] == "from shop.money import cents"
    assert known["_round"] == "from shop.pricing import _round"
    assert known["Cart"] == "from shop.cart import Cart"
    assert known["Decimal"] == "from decimal import Decimal"
    assert known_imports(_packed(Path("/other/pricing.py")), ROOT, PRICING) == {}


def test_the_test_plan_knows_its_subject(tmp_path):
    (tmp_path / "shop").mkdir()
    path = tmp_path / "shop" / "pricing.py"
    plan = generate_tests.plan(_packed(path), tmp_path, PRICING)
    assert (plan.module, plan.name) == ("shop.pricing", "apply_discount")
    assert plan.subject.name == "apply_discount" and plan.subject.names == {"apply_discount"}
    assert plan.subject.imports["_round"] == "from shop.pricing import _round"
