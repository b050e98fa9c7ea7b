"""Imports added for names an answer used undefined: only where one import line binds the name."""

from lsp_server.verify import repair

MODULE = '''"""Prices."""

from decimal import Decimal as D
from . import rounding
from .money import cents, Currency as Cur
import shop.tax
import os.path

RATE = 3


def _round(value):
    return value


class Price:
    pass
'''


def test_the_module_namespace_says_what_its_names_are():
    names = repair.module_namespace("shop.pricing", "shop", MODULE)
    assert names["D"] == "from decimal import Decimal as D"
    assert names["rounding"] == "from shop import rounding"
    assert names["cents"] == "from shop.money import cents"
    assert names["Cur"] == "from shop.money import Currency as Cur"
    assert names["shop"] == "import shop.tax" and names["os"] == "import os.path"
    assert names["RATE"] == "from shop.pricing import RATE"
    assert names["_round"] == "from shop.pricing import _round" and names["Price"] == "from shop.pricing import Price"


def test_a_module_that_does_not_parse_offers_nothing():
    assert repair.module_namespace("m", "", "def broken(:\n") == {}


def test_relative_imports_climb_from_the_package():
    assert repair.absolute_module("a.b.c", 1, "x") == "a.b.c.x"
    assert repair.absolute_module("a.b.c", 2, "x") == "a.b.x"
    assert repair.absolute_module("a.b.c", 3, "") == "a"
    assert repair.absolute_module("a", 3, "x") is None
    assert repair.absolute_module("", 0, "json") == "json"


def test_the_module_decides_then_unique_workspace_and_stdlib_names():
    known = repair.known_imports("shop.pricing", "shop", MODULE, [("shop.cart", "Cart"), ("shop.paths", "Path"), ("a", "Twice"), ("b", "Twice"), ("shop.pricing", "RATE")])
    assert known["Cart"] == "from shop.cart import Cart"
    assert known["Decimal"] == "from decimal import Decimal"  # the stdlib table
    assert known["D"] == "from decimal import Decimal as D"  # the module's own alias
    assert "Path" not in known  # the workspace's Path beside pathlib's: ambiguous
    assert "Twice" not in known
    assert known["RATE"] == "from shop.pricing import RATE"
    assert "Counter" not in known  # the few-shot examples' class name is never guessed


def test_the_module_namespace_wins_over_the_table():
    known = repair.known_imports("m", "", "from mylib import Path\n", [])
    assert known["Path"] == "from mylib import Path"


def test_undefined_names_come_from_f821_only():
    problems = [
        {"code": "F821", "message": "Undefined name `Decimal`"},
        {"code": "F821", "message": "Undefined name `helper`. Consider specifying `requires-python`"},
        {"code": "F822", "message": "Undefined name `gone` in `__all__`"},
    ]
    assert repair.undefined_names(problems) == {"Decimal", "helper"}


def test_imports_go_after_the_leading_imports():
    text = '"""Tests."""\nimport pytest\nfrom shop.pricing import apply_discount\n\n\ndef test_a():\n    assert apply_discount(Decimal("1"), 0)\n'
    fixed, added = repair.add_imports(text, {"Decimal", "nobody_knows"}, repair.STDLIB)
    assert added == ["from decimal import Decimal"]
    assert fixed.splitlines()[:4] == ['"""Tests."""', "import pytest", "from shop.pricing import apply_discount", "from decimal import Decimal"]
    compile(fixed, "t.py", "exec")


def test_imports_go_after_a_docstring_or_at_the_top():
    assert repair.insertion_line('"""Doc."""\n\nx = 1\n') == 1
    assert repair.insertion_line("x = 1\nimport os\n") == 0
    assert repair.insertion_line("def broken(:\n") is None
    assert repair.add_imports("def broken(:\n", {"Decimal"}, repair.STDLIB) == ("def broken(:\n", [])


def test_nothing_resolvable_leaves_the_text_alone():
    text = "def test_a():\n    assert mystery()\n"
    assert repair.add_imports(text, {"mystery"}, repair.STDLIB) == (text, [])


def test_datetime_is_the_module_when_the_code_reaches_into_it():
    as_class = "def test_a():\n    assert datetime(2020, 1, 1).year == 2020\n"
    as_module = "def test_a():\n    assert datetime.date(2020, 1, 1)\n"
    assert repair.import_lines_for({"datetime"}, repair.STDLIB, as_class) == ["from datetime import datetime"]
    assert repair.import_lines_for({"datetime"}, repair.STDLIB, as_module) == ["import datetime"]
