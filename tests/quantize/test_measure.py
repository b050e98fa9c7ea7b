import json

import pytest

from quantize.cli import main
from quantize.synth import synth


def test_plan_measure_on_a_file_agrees_with_llama_cpp(tmp_path, bundled_gguf, tiny_shape, capsys):
    out = tmp_path / "tiny.gguf"
    synth(tiny_shape, out, "Q8_0", tokenizer_from=bundled_gguf)
    assert main(["plan", "--model", str(out), "--gpu-mem", "0", "--ctx", "2048", "--measure", "--json"]) == 0
    measured = json.loads(capsys.readouterr().out)["measured"]
    assert measured["kv_llama_cpp"] == measured["kv_estimate"] > 0
    assert measured["compute_llama_cpp"] == pytest.approx(measured["compute_estimate"], rel=0.02)
