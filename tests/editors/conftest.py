"""Real-editor tests: Neovim and VS Code (code-server) with the shipped plugins, the real server
and the real bundled model."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
WORKSPACE = REPO / "tests" / "e2e" / "workspace"
# The server's interpreter: the one running pytest, so CI's venv (or GEMMA_LSP_PYTHON) is used.
PYTHON = os.environ.get("GEMMA_LSP_PYTHON", sys.executable)


def pytest_configure(config):
    config.addinivalue_line("markers", "editors: drives a real editor (Neovim, VS Code) with the real server and model")


def copy_workspace(root: Path) -> Path:
    """The e2e sample project, with a pyproject.toml so editors take it as the project root."""
    target = root / "workspace"
    shutil.copytree(WORKSPACE, target)
    (target / "pyproject.toml").write_text("[project]\nname = 'shop'\n")
    return target


def server_env(root: Path, **extra: str) -> dict[str, str]:
    """The environment for an editor: the server it starts imports this checkout's lsp_server,
    and writes its explanations into a cache of its own under ``root`` (other tests write theirs
    to the user cache at the same time), using the model already assembled there."""
    from lsp_server.model.resolve import bundled_model_path

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.setdefault("GEMMA_LSP_MODEL", str(bundled_model_path() or ""))
    env["XDG_CACHE_HOME"] = str(root / "cache")
    env.update(extra)
    return env
