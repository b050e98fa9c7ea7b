"""Hostile workspaces: generated trees (tests/robustness/hostile.py) indexed by the real index in
its own process and by the real server. Zero crashes, each problem reported once, every good
file indexed, and a hover still answers.

Permission denied: the tests run as root here, which reads any file; so both processes run under
``setpriv`` without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH, and chmod 000 denies for real.
GEMMA_HOSTILE_TREES sets how many trees (seeds) the index test generates (CI: 1; the server test adds another).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.robustness.hostile import MAX_FILE_BYTES, make_hostile_tree, unlock
from tests.robustness.rawclient import hover_text, open_document, start_server

TREES = int(os.environ.get("GEMMA_HOSTILE_TREES", "1"))
NO_OVERRIDE = ["setpriv", "--inh-caps=-dac_override,-dac_read_search", "--bounding-set=-dac_override,-dac_read_search"]
REPO = Path(__file__).resolve().parents[2]


def without_override() -> list[str]:
    """A command prefix that makes file permissions bind, also for root."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: chmod 000 would not deny anything")
    return NO_OVERRIDE


@pytest.fixture
def hostile(tmp_path: Path):
    made = []

    def make(seed: int):
        tree = make_hostile_tree(tmp_path / f"tree{seed}", seed)
        made.append(tree)
        return tree

    yield make
    for tree in made:
        unlock(tree)


def assert_reported_once(tree, skipped: dict[str, str], skip_logs: list[str]) -> None:
    for path, word in tree.problems.items():
        assert word in skipped.get(str(path), ""), (path, skipped.get(str(path)))
        assert sum(log.startswith(f"index: skipping {path}:") for log in skip_logs) == 1, (path, skip_logs)
    gone = {str(p) for p in tree.vanishing}
    unexpected = set(skipped) - {str(p) for p in tree.problems} - gone
    assert not unexpected, unexpected
    assert len(skip_logs) == len(set(skip_logs)), "a problem was reported twice"


@pytest.mark.parametrize("seed", range(TREES))
def test_the_index_survives_a_hostile_tree(hostile, seed: int):
    tree = hostile(seed)
    command = [*without_override(), sys.executable, "-m", "tests.robustness.index_hostile", str(tree.root), str(MAX_FILE_BYTES), *map(str, tree.vanishing)]
    done = subprocess.run(command, capture_output=True, check=False, cwd=REPO, timeout=600, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
    result = json.loads(done.stdout)
    indexed = set(result["indexed"])
    missing = {str(p) for p in tree.good - tree.vanishing} - indexed
    assert not missing, missing
    assert not indexed & {str(p) for p in [*tree.problems, *tree.vanishing]}
    assert_reported_once(tree, result["skipped"], result["skip_logs"])
    assert result["files"][0] == result["files"][1] == len(tree.good - tree.vanishing)


def test_the_server_indexes_a_hostile_tree_and_still_hovers(hostile):
    tree = hostile(1000)
    for path in tree.vanishing:  # nothing vanishes here: the server only sees the tree as it is
        tree.good.discard(path)
    options = {"hover": {"explain": False}, "index": {"git": False, "watch": False, "cache": False, "max_file_bytes": MAX_FILE_BYTES}, "logLevel": "info"}
    client = start_server(tree.root, options, prefix=without_override(), env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        deadline = time.monotonic() + 300
        while not any("indexed" in m for m in logs(client)):
            assert time.monotonic() < deadline, "the index never finished"
            client.request("textDocument/codeAction", {"textDocument": {"uri": "file:///nowhere.py"}, "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}, "context": {"diagnostics": []}})
            time.sleep(0.2)
        assert f"indexed {len(tree.good | set(tree.vanishing))} files" in " ".join(logs(client))
        skip_logs = [m.removeprefix("lsp_server.index.workspace: ") for m in logs(client) if "index: skipping" in m]
        assert_reported_once(tree, {str(p): w for p, w in tree.problems.items()}, skip_logs)
        path, line, column, name = tree.probe
        uri = open_document(client, path)
        assert f"def {name}(value):" in hover_text(client, uri, line, column)
        assert client.alive()
    finally:
        client.close()


def logs(client) -> list[str]:
    return [n["params"]["message"] for n in client.notifications if n["method"] == "window/logMessage"]


def test_regression_a_symlink_loop_between_two_files_is_reported_not_raised(tmp_path: Path):
    """discover() used to raise ELOOP from DirEntry.is_file() and end the whole index build."""
    from lsp_server.index.discovery import discover

    (tmp_path / "good.py").write_text("x = 1\n")
    (tmp_path / "a.py").symlink_to(tmp_path / "b.py")
    (tmp_path / "b.py").symlink_to(tmp_path / "a.py")
    found, skipped = discover([tmp_path])
    assert [f.path.name for f in found] == ["good.py"]
    assert sorted((s.path.name, "symlink loop" in s.reason) for s in skipped) == [("a.py", True), ("b.py", True)]
