import json

import pytest

from quantize.cli import main
from quantize.report import parse_size


@pytest.mark.parametrize(("text", "expected"), [
    ("24GiB", 24 * 2**30), ("24G", 24 * 2**30), ("24GB", 24 * 10**9), ("8000MiB", 8000 * 2**20),
    ("0", 0), ("1.5 GiB", int(1.5 * 2**30)),
])
def test_parse_size(text, expected):
    assert parse_size(text) == expected


def test_parse_size_says_how_to_write_it():
    with pytest.raises(ValueError, match="24GiB"):
        parse_size("lots")


def test_plan_json_for_a_named_shape(capsys):
    assert main(["plan", "--model", "gemma4-31b", "--gpu-mem", "24GiB", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["recommended"]["n_gpu_layers"] == 61
    assert out["estimate_bytes"]["total_gpu"] <= 24 * 2**30
    assert [row["quant"] for row in out["table"]][:2] == ["Q8_0", "Q6_K"]


def test_plan_text_names_the_layers(capsys):
    assert main(["plan", "--model", "gemma4-31b", "--gpu-mem", "24GiB", "--ctx", "131072"]) == 0
    text = capsys.readouterr().out
    assert "50 sliding-window (1024 tokens) + 10 global" in text and "n_ctx=131072" in text


def test_errors_exit_2_with_the_message(capsys):
    assert main(["plan", "--model", "gemma9", "--gpu-mem", "24GiB"]) == 2
    assert "Known shapes" in capsys.readouterr().err
    assert main(["plan", "--model", "gemma4-31b", "--gpu-mem", "lots", "--json"]) == 2
    assert "24GiB" in json.loads(capsys.readouterr().out)["error"]


def test_allocation_is_read_from_llama_cpp_log_lines():
    from quantize.measure import parse_allocation

    log = ("llama_kv_cache: size =   24.00 MiB (  8192 cells, ...)\n"
           "llama_kv_cache: size =   15.00 MiB (  1024 cells, ...)\n"
           "sched_reserve:      CUDA0 compute buffer size =   533.00 MiB\n"
           "sched_reserve:  CUDA_Host compute buffer size =    54.52 MiB\n")
    assert parse_allocation(log) == (39 * 2**20, 533 * 2**20)
