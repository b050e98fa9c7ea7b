"""Which names of a module the tests use: what on-save stub tests leave alone."""

from pathlib import Path

from lsp_server.context.resolve import referenced_by_tests

from .indexed import indexed

FILES = {
    "geo/__init__.py": "",
    "geo/shapes.py": "def area(w, h):\n    return w * h\n\n\ndef perimeter(w, h):\n    return 2 * (w + h)\n\n\nclass Box:\n    def volume(self):\n        return 1\n",
    "geo/report.py": "from geo.shapes import perimeter\n\n\ndef report():\n    return perimeter(1, 2)\n",
    "tests/test_shapes.py": "from geo.shapes import Box, area\n\n\ndef test_area():\n    assert area(2, 3) == 6\n\n\ndef test_box():\n    assert Box().volume() == 1\n",
}


def test_names_used_by_test_files_only(tmp_path: Path):
    index = indexed(tmp_path, FILES)
    shapes = tmp_path / "geo" / "shapes.py"
    assert referenced_by_tests(index, shapes, FILES["geo/shapes.py"]) == {"area", "Box"}, "perimeter is used outside tests only"


def test_a_file_the_index_has_not_read_is_indexed_from_its_text(tmp_path: Path):
    index = indexed(tmp_path, FILES)
    new = tmp_path / "geo" / "new.py"
    assert referenced_by_tests(index, new, "def fresh():\n    return 1\n") == set()
    assert index.facts(new) is not None and index.facts(new).find("fresh") is not None
