import json

import pytest

from lsp_server.cli import main


@pytest.fixture
def repo(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    root = tmp_path / "w"
    (root / "pkg").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'w'\n")
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "util.py").write_text("def clamp(v, lo, hi):\n    return max(lo, min(v, hi))\n")
    (root / "pkg" / "main.py").write_text("from pkg.util import clamp\n\n\ndef fit(v):\n    return clamp(v, 0, 10)\n")
    (root / "bad.py").write_bytes(b"\xff\xfe not utf-8")
    return root


def test_index_json_reports_the_contract_fields(repo, capsys):
    assert main(["index", str(repo), "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert (facts["files"], facts["symbols"]) == (3, 2)
    assert facts["bytes"] > 0 and facts["seconds"] >= 0
    assert facts["skipped"] == {str(repo / "bad.py"): "not UTF-8"}


def test_context_json_lists_items_with_lines_and_reasons(repo, capsys):
    assert main(["context", f"{repo / 'pkg' / 'main.py'}:5", "--budget", "2048", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["budget"] == 2048 and 0 < result["tokens"] <= 2048
    clamp = next(item for item in result["items"] if item["symbol"] == "clamp")
    assert (clamp["path"], clamp["start_line"], clamp["end_line"], clamp["reason"]) == ("pkg/util.py", 1, 2, "used by the target")


def test_context_table_is_readable(repo, capsys):
    assert main(["context", f"{repo / 'pkg' / 'main.py'}:5", "--text"]) == 0
    out = capsys.readouterr().out
    assert "used by the target" in out and "===== target: fit =====" in out
