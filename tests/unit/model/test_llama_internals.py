"""llama-cpp-python's private parts are used in one module, which refuses untested versions."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

llama_internals = pytest.importorskip("lsp_server.model.llama_internals")

LSP_SERVER = Path(__file__).resolve().parents[3] / "lsp_server"
PRIVATE = re.compile(r"\._ctx\b|\._model\b|\b_lib\b|_internals\b|suppress_stdout_stderr")


def touches_internals(source: str) -> bool:
    return bool(PRIVATE.search(source.replace("llama_internals", "")))


def test_the_tested_version_passes_and_another_is_refused_with_what_to_install():
    llama_internals.check_version(llama_internals.TESTED_VERSIONS[0])
    with pytest.raises(llama_internals.UnsupportedLlamaCpp, match=r"0\.9\.0 is installed.*pip install 'llama-cpp-python=="):
        llama_internals.check_version("0.9.0")


def test_no_other_module_touches_llama_cpp_internals():
    users = {str(p.relative_to(LSP_SERVER)) for p in LSP_SERVER.rglob("*.py") if touches_internals(p.read_text())}
    assert users == {"model/llama_internals.py"}


def test_the_scan_sees_a_private_access():
    assert touches_internals("self.ctx = llm._ctx.ctx") and touches_internals("import llama_cpp._internals")
    assert not touches_internals("self.ctx = llama_internals.context(llm)")
