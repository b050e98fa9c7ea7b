from pathlib import Path

from lsp_server.config import IndexSettings
from lsp_server.context.build import build_context, read_file
from lsp_server.context.imports import imported_definitions, module_candidates
from lsp_server.estimate import estimate_tokens
from lsp_server.index.python_symbols import parse_python
from lsp_server.index.symbols import Import
from lsp_server.index.workspace import WorkspaceIndex


def unbuilt_index(root: Path) -> WorkspaceIndex:
    """An index whose background build has not run: build_context must index what it needs."""
    return WorkspaceIndex([root], IndexSettings(cache=False))


def make_workspace(root: Path) -> Path:
    (root / "pkg").mkdir()
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "shapes.py").write_text("def area(w, h):\n    \"\"\"Area of a rectangle.\"\"\"\n    return w * h\n\nOTHER = 1\n")
    (root / "pkg" / "util.py").write_text("def clamp(v, lo, hi):\n    return max(lo, min(v, hi))\n")
    main = root / "pkg" / "main.py"
    main.write_text(
        "from pkg.shapes import area\nfrom .util import clamp\nimport os\n\n"
        "def fitted(w, h, limit):\n    return clamp(area(w, h), 0, limit)\n"
    )
    return main


def test_module_candidates_for_absolute_and_relative_imports(tmp_path):
    current = tmp_path / "pkg" / "main.py"
    assert module_candidates(Import("pkg.shapes", 0, ("area",)), current, [tmp_path])[:2] == [
        tmp_path / "pkg" / "shapes.py",
        tmp_path / "pkg" / "shapes" / "__init__.py",
    ]
    assert module_candidates(Import("util", 1, ("clamp",)), current, [tmp_path])[0] == tmp_path / "pkg" / "util.py"
    assert module_candidates(Import("", 2, ("x",)), current, [tmp_path]) == [tmp_path / "__init__.py"]


def test_imported_definitions_are_found_in_the_workspace(tmp_path):
    main = make_workspace(tmp_path)
    parsed = parse_python(main.read_text())
    found = imported_definitions(parsed.imports, main, [tmp_path], read_file)
    assert [(d.path.name, d.qualname) for d in found] == [("shapes.py", "area"), ("util.py", "clamp")]
    assert found[0].docstring == "Area of a rectangle."


def test_build_context_is_stable_first_and_lists_a_manifest(tmp_path):
    main = make_workspace(tmp_path)
    packed = build_context(main, main.read_text(), (5, 4), (5, 4), unbuilt_index(tmp_path), budget=2000)
    assert packed.target.name == "fitted"
    titles = [item.title for item in packed.items]
    assert titles == ["pkg/shapes.py: area", "pkg/util.py: clamp", "pkg/main.py (current file)"]
    assert packed.manifest[-1]["title"] == "target: fitted"
    assert all(entry["included"] for entry in packed.manifest)
    area = packed.manifest[0]
    assert (area["path"], area["start_line"], area["end_line"], area["reason"]) == ("pkg/shapes.py", 1, 3, "used by the target")


def test_a_small_budget_drops_related_code_and_windows_the_file(tmp_path):
    main = make_workspace(tmp_path)
    long_file = main.read_text() + "".join(f"\ndef filler_{i}():\n    return {i}\n" for i in range(300))
    packed = build_context(main, long_file, (5, 4), (5, 4), unbuilt_index(tmp_path), budget=85)
    total = sum(estimate_tokens(item.text) for item in packed.items) + estimate_tokens(packed.target.text)
    assert total <= 85 and packed.tokens == total
    whole = [e["symbol"] for e in packed.manifest if e["section"] == "related"]
    mapped_or_out = [e["symbol"] for e in packed.manifest if e["section"] in ("repo map", "left out")]
    assert whole == ["area"] and mapped_or_out == ["clamp"]
    assert "pkg/util.py:1: def clamp(v, lo, hi):" in packed.items[0].text
    file_item = packed.items[-1]
    assert "around the target" in file_item.title and "def fitted" in file_item.text


def test_an_oversized_target_keeps_head_and_tail(tmp_path):
    body = "".join(f"    x{i} = {i}\n" for i in range(400))
    text = f"def huge():\n{body}    return x0\n"
    path = tmp_path / "huge.py"
    packed = build_context(path, text, (1, 0), (1, 0), unbuilt_index(tmp_path), budget=200)
    assert estimate_tokens(packed.target.text) <= 200
    assert packed.target.text.startswith("def huge():") and packed.target.text.rstrip().endswith("return x0")
    assert "lines left out" in packed.target.text
