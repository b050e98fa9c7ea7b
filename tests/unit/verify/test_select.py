"""Which files import a module: tests for Change... and the other actions, modules for the chain."""

from lsp_server.verify import select


def test_importers_are_found_by_any_import_form(tmp_path):
    files = {
        "desk/config.py": "X = 1\n",
        "desk/auth.py": "from desk import config, store\n",
        "desk/other.py": "from desk import configure\n",
        "tests/test_auth.py": "from desk.auth import login\n",
        "tests/test_config.py": "import desk.config\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert select.files_importing(tmp_path, "desk.config", tests=False) == ["desk/auth.py"]
    assert select.tests_importing(tmp_path, "desk.config") == ["tests/test_config.py"]
    assert select.tests_importing(tmp_path, "desk.auth") == ["tests/test_auth.py"]
