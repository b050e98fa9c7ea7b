"""The commands that load a model open llama.cpp's libraries before numpy and scipy.

On the CUDA build the other order crashed every model load (SIGSEGV in llama_model::print_info,
tests/benchmarks/RESULTS.md, issue 9); the CPU build here does not crash either way, so this checks
the order itself, in a real `python -m lsp_server` process.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("llama_cpp")


def imported_modules(*args: str) -> list[str]:
    """Module names in the order their import finished (python -X importtime)."""
    run = subprocess.run([sys.executable, "-X", "importtime", "-m", "lsp_server", *args], stdin=subprocess.DEVNULL,
                         capture_output=True, text=True, timeout=120, check=False)
    lines = [line.split("|")[-1].strip() for line in run.stderr.splitlines() if line.startswith("import time:")]
    return [name for name in lines if name and name != "package"]


@pytest.mark.parametrize("command", [["serve"], ["doctor", "--json"]])
def test_model_commands_open_llama_cpp_before_numpy_and_scipy(command):
    modules = imported_modules(*command)
    assert "llama_cpp.llama_cpp" in modules, modules[:40]
    first_native = modules.index("llama_cpp.llama_cpp")
    for heavy in ("numpy", "scipy", "tree_sitter", "networkx"):
        if heavy in modules:
            assert modules.index(heavy) > first_native, f"{heavy} was imported before llama.cpp's libraries"


def test_index_command_does_not_load_llama_cpp(tmp_path):
    (tmp_path / "a.py").write_text("def f():\n    return 1\n")
    assert "llama_cpp" not in imported_modules("index", str(tmp_path), "--json")
