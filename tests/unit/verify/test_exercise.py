"""Generated tests that exercise nothing of the target (copied few-shot examples) are found."""

from lsp_server.verify.exercise import shadowing_definitions, subject_names, unexercised_tests, without_definitions

CART = "class Cart:\n    def __init__(self):\n        self.items = []\n\n    def total(self):\n        return 0\n\n    def _check(self):\n        pass\n"


def test_the_subject_is_each_part_of_the_name_and_a_class_s_methods():
    assert subject_names("apply_discount", "function", "def apply_discount(p, q):\n    pass\n") == {"apply_discount"}
    assert subject_names("Cart.total", "method", "    def total(self):\n        return 0\n") == {"Cart", "total"}
    assert subject_names("Cart", "class", CART) == {"Cart", "total", "_check"}
    assert subject_names("Cart", "class", "class Cart(:\n") == {"Cart"}


def test_copied_examples_are_found_and_real_tests_kept():
    text = (
        "import pytest\nfrom shop.pricing import apply_discount\n\n\n"
        "def test_is_even_with_an_even_number():\n    assert is_even(4) is True\n\n\n"
        "def test_ten_percent():\n    assert apply_discount(100, 10) == 90\n\n\n"
        "def test_add_to_a_new_counter():\n    counter = Counter()\n    assert counter.add(2) == 2\n"
    )
    assert unexercised_tests(text, frozenset({"apply_discount"})) == ["test_is_even_with_an_even_number", "test_add_to_a_new_counter"]


def test_attributes_aliases_helpers_and_fixtures_count():
    text = (
        "import pytest\nimport shop.pricing\nfrom shop.cart import Cart as C\nfrom shop.pricing import apply_discount as ad\n\n"
        "EMPTY = C()\n\n\n"
        "@pytest.fixture\ndef cart():\n    return C()\n\n\n"
        "def discounted(p):\n    return ad(p, 10)\n\n\n"
        "def test_module_attribute():\n    assert shop.pricing.apply_discount(1, 0) == 1\n\n\n"
        "def test_alias():\n    assert ad(1, 0) == 1\n\n\n"
        "def test_through_a_helper():\n    assert discounted(100) == 90\n\n\n"
        "def test_through_a_fixture(cart):\n    assert cart.items == []\n\n\n"
        "def test_through_a_module_name():\n    assert EMPTY.items == []\n\n\n"
        "def test_method_on_an_object(thing):\n    assert thing.total() == 0\n"
    )
    assert unexercised_tests(text, frozenset({"apply_discount", "Cart", "total"})) == []
    assert unexercised_tests(text, frozenset({"apply_discount"})) == ["test_through_a_fixture", "test_through_a_module_name", "test_method_on_an_object"]


def test_the_test_s_own_name_is_no_evidence():
    text = "def test_apply_discount():\n    assert 1 + 1 == 2\n"
    assert unexercised_tests(text, frozenset({"apply_discount"})) == ["test_apply_discount"]


def test_nothing_is_dropped_without_names_or_a_parse():
    text = "def test_a():\n    assert True\n"
    assert unexercised_tests(text, frozenset()) == []
    assert unexercised_tests("def test_a(:\n", frozenset({"a"})) == []


def test_a_copy_of_an_imported_name_is_found_and_removed():
    text = (
        "import pytest\nfrom shop.pricing import apply_discount\n\n\n"
        "def test_ten():\n    assert apply_discount(100, 10) == 90\n\n\n"
        "# echoed from the context\n"
        "@decorator\ndef apply_discount(price, percent):\n    return price\n\n\n"
        "class pytest:\n    pass\n\n\n"
        "def helper():\n    return 1\n"
    )
    assert shadowing_definitions(text) == ["apply_discount", "pytest"]
    kept = without_definitions(text, {"apply_discount", "pytest"})
    assert "def apply_discount" not in kept and "@decorator" not in kept and "class pytest" not in kept
    assert "def test_ten():" in kept and kept.endswith("def helper():\n    return 1\n")
    compile(kept, "t.py", "exec")
    assert shadowing_definitions("from m import f\n\n\ndef test_f():\n    assert f()\n") == []
