"""On-save stub tests, pure parts: what changed, what needs a stub, and the text appended."""

from __future__ import annotations

from pathlib import Path

import pytest

from lsp_server.actions import stub_tests

BEFORE = '''def area(width, height):
    return width * height


def _private(x):
    return x


class Shape:
    def grow(self, factor):
        return factor
'''


def test_new_and_changed_public_top_level_functions_are_found_in_file_order():
    after = BEFORE.replace("width * height", "height * width") + "\n\ndef perimeter(width, height=1, *, unit):\n    return 2 * (width + height)\n\n\ndef _hidden():\n    pass\n"
    assert stub_tests.changed_functions(BEFORE, after) == ["area", "perimeter"]


def test_whitespace_only_changes_and_methods_do_not_count():
    after = BEFORE.replace("    return width * height\n", "    return width * height   \n\n") .replace("return factor", "return factor * 2")
    assert stub_tests.changed_functions(BEFORE, after) == []
    assert stub_tests.changed_functions(BEFORE, BEFORE) == []


def test_referenced_mentioned_or_already_stubbed_functions_get_no_stub():
    existing = "from geo import area\n\n\ndef test_perimeter():\n    pass\n"
    assert stub_tests.needing_stubs(["area", "perimeter", "volume", "scale"], {"scale"}, existing) == ["volume"]
    assert stub_tests.needing_stubs(["volume"], set(), None) == ["volume"]


def test_the_call_has_one_placeholder_per_required_argument():
    assert stub_tests.call_of("def f(a, b=1, *args, c, d=2, **kw):\n    pass\n", "f") == "f(..., c=...)"
    assert stub_tests.call_of("def g():\n    pass\n", "g") == "g()"
    assert stub_tests.call_of("async def h(x):\n    pass\n", "h") == "await h(...)"
    assert stub_tests.signature_of("def f(a,\n      b=1) -> int:\n    pass\n", "f") == "f(a, b=1)"


def test_a_new_test_file_imports_what_it_stubs_and_every_stub_skips(tmp_path: Path):
    functions = {"area": "def area(width, height):\n    return width * height\n", "volume": "def volume(size):\n    return size ** 3\n"}
    edit = stub_tests.stub_edit("geo.shapes", functions, ["area", "volume"], tmp_path / "tests" / "test_shapes.py", None)
    assert edit.create and (edit.line, edit.character) == (0, 0) and edit.names == ["area", "volume"]
    assert edit.text == (
        "import pytest\n\nfrom geo.shapes import area, volume\n\n\n"
        "def test_area():\n    pytest.skip('stub: write this test for area(width, height)')\n    result = area(..., ...)\n    assert result == ...\n\n\n"
        "def test_volume():\n    pytest.skip('stub: write this test for volume(size)')\n    result = volume(...)\n    assert result == ...\n"
    )
    compile(edit.text, "t.py", "exec")


@pytest.mark.parametrize("existing", ["import pytest\nfrom geo.shapes import area\n\n\ndef test_x():\n    pass\n", "def test_x():\n    pass", "\n"])
def test_appending_never_changes_an_existing_line(tmp_path: Path, existing: str):
    functions = {"area": "def area(width, height):\n    return width * height\n"}
    edit = stub_tests.stub_edit("geo.shapes", functions, ["area"], tmp_path / "test_shapes.py", existing)
    assert not edit.create
    lines = existing.split("\n")
    assert (edit.line, edit.character) == (len(lines) - 1, len(lines[-1]))
    after = existing + edit.text
    assert after.startswith(existing)
    compile(after, "t.py", "exec")
    imports_pytest, imports_area = existing.startswith("import pytest"), "import area" in existing
    assert ("    import pytest\n" in edit.text) is not imports_pytest
    assert ("    from geo.shapes import area\n" in edit.text) is not imports_area
    if existing.strip():
        assert "\n\n\ndef test_area():" in after


def test_no_names_no_edit(tmp_path: Path):
    assert stub_tests.stub_edit("m", {}, [], tmp_path / "test_m.py", None) is None


def test_the_setting_and_the_package_rule(tmp_path: Path):
    package, loose = tmp_path / "pkg", tmp_path / "scripts"
    package.mkdir(), loose.mkdir()
    (package / "__init__.py").write_text("")
    assert stub_tests.wanted("auto", package / "a.py", is_test=False)
    assert not stub_tests.wanted("auto", loose / "a.py", is_test=False)
    assert stub_tests.wanted(True, loose / "a.py", is_test=False)
    assert not stub_tests.wanted(False, package / "a.py", is_test=False)
    assert not stub_tests.wanted(True, package / "test_a.py", is_test=True)
    assert not stub_tests.wanted(True, package / "notes.txt", is_test=False)
