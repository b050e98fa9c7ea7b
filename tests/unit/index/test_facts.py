from lsp_server.index.facts import extract_facts

SOURCE = b'''import os
from .models import helper as h, Base

@register.on("x")
class Shop(Base, abc.ABC):
    LIMIT = 3

    def total(self):
        return h(self.price()) + os.sep

def test_total():
    assert Shop().total()
'''


def test_uses_are_kept_per_scope_and_definitions_are_not_uses():
    facts = extract_facts("pkg/tests/test_shop.py", SOURCE)
    assert {"h", "price", "os", "sep", "self"} <= facts.uses["Shop.total"]
    assert "total" not in facts.uses["Shop.total"]  # its own name is a definition
    assert {"Shop", "total"} <= facts.uses["test_total"]
    assert "test_total" not in facts.uses.get("", frozenset())


def test_bases_decorators_and_aliases():
    facts = extract_facts("pkg/shop.py", SOURCE)
    assert facts.bases == {"Shop": ("Base", "ABC")}
    assert facts.decorators == {"Shop": ("on",)}
    assert facts.imports[1].local_names() == {"h": "helper", "Base": "Base"}


def test_test_files_are_recognised():
    assert extract_facts("pkg/tests/test_shop.py", SOURCE).is_test_file
    assert extract_facts("/w/test_shop.py", SOURCE).is_test_file
    assert not extract_facts("/w/pkg/shop.py", SOURCE).is_test_file


def test_signatures_skip_decorators_and_bodies():
    facts = extract_facts("pkg/shop.py", SOURCE)
    assert facts.find("Shop").signature == "class Shop(Base, abc.ABC):"
    assert facts.find("Shop.total").signature == "def total(self):"
