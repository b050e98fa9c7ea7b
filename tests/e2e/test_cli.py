"""The command line on the real bundled model: explain, change, doctor, bench."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lsp_server.actions.change_prompt import DEFAULT_FORMAT

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
FAST = ["--n-ctx", "2048", "--max-tokens", "32", "--temperature", "0"]


def gemma_lsp(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lsp_server", *args], capture_output=True, text=True, timeout=timeout, cwd=REPO)


def test_explain_streams_an_explanation_of_the_symbol_at_the_line():
    result = gemma_lsp("explain", "tests/e2e/workspace/shop/pricing.py:6", *FAST)
    assert result.returncode == 0, result.stderr
    assert "Explaining apply_discount (function, lines 4-8)" in result.stderr
    # llama.cpp's own lines (load chatter, "probably a bug in the model") go to the debug log
    assert not re.search(r"^(llama_|ggml_|load_|print_info|llm_)|probably a bug", result.stderr, re.M), result.stderr
    assert result.stdout.startswith("`apply_discount`")
    assert len(result.stdout.strip()) > len("`apply_discount`")


TAX = """def add_tax(price):
    \"\"\"Add the sales tax of twenty percent to the price and return the total, rounded to cents.\"\"\"
    return round(price * 1.2, 2)


def add_vat(price):
    return round(price * 1.2, 2)
"""


def test_explain_never_passes_off_a_neighbours_docstring_silently(tmp_path):
    (tmp_path / "tax.py").write_text(TAX)
    result = gemma_lsp("explain", f"{tmp_path / 'tax.py'}:7", "--n-ctx", "2048", "--max-tokens", "48", "--temperature", "0")
    assert result.returncode == 0, result.stderr
    words = lambda text: re.findall(r"[a-z0-9_]+", text.lower())
    grams = lambda ws: {tuple(ws[i:i + 4]) for i in range(len(ws) - 3)}
    docstring = grams(words("Add the sales tax of twenty percent to the price and return the total, rounded to cents."))
    answers = re.split(r"\*Answer \d repeats a docstring of `add_tax`[^*]*\*", result.stdout)
    last = grams(words(answers[-1]))
    if len(answers) > 1:
        assert "Answer 2 of 2" in result.stdout, "a repeat is asked again, and the stream says so"
    if len(words(answers[-1])) >= 8 and len(last & docstring) >= len(last) / 2:
        assert "repeats a docstring of `add_tax`" in result.stderr, "an answer left repeating it is said to"
    else:
        assert "Note: This answer repeats" not in result.stderr


def test_explain_with_a_bad_location_says_what_to_write():
    result = gemma_lsp("explain", "tests/e2e/workspace/shop/pricing.py", *FAST)
    assert result.returncode == 1
    assert "FILE:LINE" in result.stderr and "Traceback" not in result.stderr
    result = gemma_lsp("explain", "tests/e2e/workspace/shop/pricing.py:999", *FAST)
    assert result.returncode == 1 and "has 8 lines" in result.stderr


def test_explain_with_a_missing_model_names_the_three_ways(tmp_path):
    result = gemma_lsp("explain", "tests/e2e/workspace/shop/pricing.py:6", "--model", str(tmp_path / "none.gguf"))
    assert result.returncode == 1
    assert "GEMMA_LSP_MODEL" in result.stderr and "model.path" in result.stderr and "Traceback" not in result.stderr


def test_doctor_json_reports_a_loadable_model():
    result = gemma_lsp("doctor", "--json", "--n-ctx", "2048")
    assert result.returncode == 0, result.stderr
    facts = json.loads(result.stdout)
    assert facts["model"]["loaded"] is True
    assert facts["model"]["source"] == "bundled" and facts["model"]["architecture"] == "gemma3"
    assert facts["model"]["prompt_style"] == "completion"  # the bundled GGUF has no chat template
    assert facts["versions"]["llama-cpp-python"] == "0.3.36"
    assert isinstance(facts["gpu"]["offload_supported"], bool)


def test_doctor_fails_with_a_reason_for_a_bad_model(tmp_path):
    bogus = tmp_path / "x.gguf"
    bogus.write_bytes(b"GGUF" + b"\0" * 100)  # the magic, but no model
    result = gemma_lsp("doctor", "--json", "--model", str(bogus))
    assert result.returncode == 1
    assert "could not load" in json.loads(result.stdout)["model"]["error"]


def test_bench_model_json_prints_speeds():
    result = gemma_lsp("bench", "model", "--json", "--prompt-tokens", "128", "--gen-tokens", "8", "--n-ctx", "2048")
    assert result.returncode == 0, result.stderr
    numbers = json.loads(result.stdout)
    assert numbers["prompt_tokens"] >= 120
    assert numbers["prefill_tokens_per_second"] > 0 and numbers["first_token_seconds_cold"] > 0
    assert numbers["warm_prefix_reused_tokens"] >= numbers["prompt_tokens"] - 2


def test_serve_over_tcp_answers_initialize():
    import socket
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "lsp_server", "serve", "--tcp", f"127.0.0.1:{port}"], cwd=REPO, stderr=subprocess.PIPE)
    try:
        connection = _connect(port, deadline=time.monotonic() + 30)
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}, "processId": None, "rootUri": None}})
        connection.sendall(f"Content-Length: {len(body)}\r\n\r\n{body}".encode())
        reply = b""
        while b'"id": 1' not in reply and b'"id":1' not in reply:
            chunk = connection.recv(65536)
            assert chunk, "the server closed the connection"
            reply += chunk
        assert b"codeActionProvider" in reply and b"gemma-lsp" in reply
        connection.close()
    finally:
        server.kill()
        server.wait(timeout=10)


def _connect(port: int, deadline: float):
    import socket
    import time

    while True:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=30)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def change_workspace(tmp_path: Path) -> Path:
    """A copy of the e2e workspace as its own project (the CLI finds the root by pyproject.toml)."""
    import shutil

    root = tmp_path / "ws"
    shutil.copytree(REPO / "tests" / "e2e" / "workspace", root)
    (root / "pyproject.toml").write_text('[project]\nname = "shop"\n')
    return root


def test_change_prints_a_verified_proposal_or_why_not_and_writes_nothing(tmp_path):
    root = change_workspace(tmp_path)
    before = {p: p.read_text() for p in root.rglob("*.py")}
    result = gemma_lsp("change", f"{root / 'shop' / 'pricing.py'}:6", "Add a MAX_PERCENT setting and use it in apply_discount", "--json", *FAST)
    assert result.returncode in (0, 1), result.stderr
    assert "Traceback" not in result.stderr
    data = json.loads(result.stdout)
    assert data["target"] == "apply_discount" and data["format"] == DEFAULT_FORMAT
    assert data["offered"] is (result.returncode == 0) and data["verification"]["checks"]
    if data["offered"]:
        assert data["files"] and all(f["diff"].startswith(("--- a/", "--- /dev/null")) for f in data["files"])
    else:
        assert data["refused"]["reason"] and "shop/pricing.py\n" in data["answer"]
    assert any("named in the instruction" in row["reason"] for row in data["manifest"])
    assert {p: p.read_text() for p in root.rglob("*.py")} == before  # nothing written


def test_change_without_an_instruction_says_what_to_write():
    result = gemma_lsp("change", "tests/e2e/workspace/shop/pricing.py:6", "  ")
    assert result.returncode == 1 and "INSTRUCTION" in result.stderr and "Traceback" not in result.stderr


def test_the_bundled_model_loads_the_bundled_adapter_unless_turned_off():
    from lsp_server.model.adapters import BUNDLED_ADAPTER

    result = gemma_lsp("doctor", "--json", "--n-ctx", "2048")
    assert result.returncode == 0, result.stderr
    lora = json.loads(result.stdout)["model"]["lora"]
    assert lora == [{"path": str(BUNDLED_ADAPTER), "alpha": 32.0, "rank": 16, "tensors": 126}]
    manifest = json.loads(BUNDLED_ADAPTER.with_suffix(".json").read_text())
    assert "click" not in json.dumps(manifest["repos"])  # bench_answers evaluates click: never trained on
    result = gemma_lsp("doctor", "--json", "--n-ctx", "2048", "--lora", "none")
    assert result.returncode == 0 and json.loads(result.stdout)["model"]["lora"] == []


def test_doctor_and_explain_with_a_lora_adapter_of_the_bundled_model(tmp_path):
    from lsp_server.model.resolve import bundled_model_path
    from tests.quantize.test_adapters import random_adapter

    adapter = random_adapter(bundled_model_path(), tmp_path / "lora.gguf", rank=2, scale=0.01)
    result = gemma_lsp("doctor", "--json", "--n-ctx", "2048", "--lora", str(adapter))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["model"]["lora"] == [{"path": str(adapter), "alpha": 2.0, "rank": 2, "tensors": 54}]
    result = gemma_lsp("explain", "tests/e2e/workspace/shop/pricing.py:6", *FAST, "--lora", str(adapter))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("`apply_discount`")
    result = gemma_lsp("doctor", "--json", "--lora", str(tmp_path / "missing.gguf"))
    assert result.returncode == 1 and "missing.gguf does not exist" in json.loads(result.stdout)["model"]["error"]
