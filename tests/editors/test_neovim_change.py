""":GemmaChange in real Neovim (0.11, headless) with a scripted team server: the verified
multi-file proposal is listed in the quickfix list and applied only when the user says Apply."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.e2e.fake_team_server import FakeTeamServer
from tests.e2e.test_change_server import INSTRUCTION, answer
from tests.e2e.test_edit_actions import run_pytest
from tests.editors.conftest import PYTHON, REPO, copy_workspace, server_env
from tests.editors.test_neovim import find_nvim

HERE = Path(__file__).parent


def change_session(root: Path, choice: str) -> tuple[dict, Path]:
    workspace = copy_workspace(root)
    results = root / "results.json"
    with FakeTeamServer(answer) as fake:
        env = server_env(root, GEMMA_PLUGIN=str(REPO / "editors" / "neovim"), GEMMA_PYTHON=PYTHON, GEMMA_WORKSPACE=str(workspace),
                         GEMMA_RESULTS=str(results), GEMMA_TEAM_URL=fake.url, GEMMA_INSTRUCTION=INSTRUCTION, GEMMA_ANSWER=choice)
        done = subprocess.run([find_nvim(), "--headless", "--clean", "-l", str(HERE / "neovim_change.lua")], cwd=workspace, env=env,
                              capture_output=True, text=True, timeout=600)
    recorded = json.loads(results.read_text()) if results.exists() else {}
    assert done.returncode == 0 and recorded.get("ok"), f"nvim exited {done.returncode}: {done.stderr[-2000:]}\n{recorded}"
    return recorded, workspace


@pytest.mark.editors
def test_gemma_change_lists_the_changes_and_applies_them_on_apply(tmp_path: Path):
    recorded, workspace = change_session(tmp_path, "Apply")
    assert recorded["choices"] == ["Apply", "Discard"] and "(verified: " in recorded["asked"], recorded
    files = {item["file"] for item in recorded["quickfix"]}
    assert files == {"pricing.py", "cart.py", "test_bulk.py"}, recorded["quickfix"]
    assert any("new file" in item["text"] for item in recorded["quickfix"] if item["file"] == "test_bulk.py")
    assert recorded["applied"] is True
    assert "def bulk_percent" in (workspace / "shop" / "pricing.py").read_text()
    assert "bulk_percent(count_items(self))" in (workspace / "shop" / "cart.py").read_text()
    result = run_pytest(workspace)
    assert result.returncode == 0 and "2 passed" in result.stdout, result.stdout


@pytest.mark.editors
def test_gemma_change_writes_nothing_on_discard(tmp_path: Path):
    recorded, workspace = change_session(tmp_path, "Discard")
    assert recorded["quickfix"] and recorded["applied"] is False
    original = REPO / "tests" / "e2e" / "workspace"
    assert (workspace / "shop" / "cart.py").read_text() == (original / "shop" / "cart.py").read_text()
    assert not (workspace / "tests" / "test_bulk.py").exists()
