import gguf
import numpy as np
import pytest

from quantize.errors import BadInput, OutputExists, UnknownQuantType
from quantize.gguf_meta import read_summary
from quantize.quantizer import load_imatrix, quantize_gguf
from quantize.synth import synth
from quantize.tensors import model_tensors

from .conftest import generate


@pytest.fixture(scope="module")
def f16_file(tmp_path_factory, bundled_gguf, tiny_shape):
    out = tmp_path_factory.mktemp("f16") / "tiny-f16.gguf"
    synth(tiny_shape, out, "F16", tokenizer_from=bundled_gguf)
    return out


def test_quantize_f16_to_q8_0_and_load(tmp_path, f16_file):
    seen = []
    result = quantize_gguf(f16_file, tmp_path / "q8.gguf", "Q8_0", progress=lambda d, n, w: seen.append((d, n)))
    summary = read_summary(result.output)
    assert summary.file_type == "Q8_0"
    assert result.output_bytes < result.input_bytes * 0.6
    assert seen and seen[-1][0] == seen[-1][1] == len(summary.tensors)
    assert generate(result.output)["usage"]["completion_tokens"] >= 1
    assert not (tmp_path / "q8.gguf.partial").exists()


def _write_imatrix(path, shape):
    writer = gguf.GGUFWriter(path, "imatrix")
    rng = np.random.default_rng(1)
    for spec in model_tensors(shape):
        if spec.name.startswith("blk.") and len(spec.dims) == 2:
            writer.add_tensor(spec.name + ".in_sum2", rng.random((1, spec.dims[0]), dtype=np.float32) * 10)
            writer.add_tensor(spec.name + ".counts", np.array([[5.0]], dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def test_imatrix_is_read_and_enables_2_bit_types(tmp_path, f16_file, tiny_shape):
    imatrix = tmp_path / "imatrix.gguf"
    _write_imatrix(imatrix, tiny_shape)
    entries = load_imatrix(imatrix)
    assert len(entries) == 14 and entries["blk.0.ffn_down.weight"].shape == (512,)
    with pytest.raises(BadInput, match="importance matrix"):
        quantize_gguf(f16_file, tmp_path / "iq2.gguf", "IQ2_XXS")
    result = quantize_gguf(f16_file, tmp_path / "iq2.gguf", "IQ2_XXS", imatrix=imatrix)
    assert result.imatrix_entries == 14
    types = {t.name: t.type_name for t in read_summary(result.output).tensors}
    assert types["blk.0.ffn_gate.weight"] == "IQ2_XXS"
    assert generate(result.output)["usage"]["completion_tokens"] >= 1


def test_never_overwrites_without_force(tmp_path, f16_file):
    out = tmp_path / "q.gguf"
    out.write_bytes(b"mine")
    with pytest.raises(OutputExists):
        quantize_gguf(f16_file, out, "Q8_0")
    assert out.read_bytes() == b"mine"
    quantize_gguf(f16_file, out, "Q4_0", force=True)
    assert read_summary(out).file_type == "Q4_0"


def test_requantizing_needs_to_be_asked_for(tmp_path, f16_file):
    q8 = quantize_gguf(f16_file, tmp_path / "q8.gguf", "Q8_0").output
    with pytest.raises(BadInput, match="--allow-requantize"):
        quantize_gguf(q8, tmp_path / "q4.gguf", "Q4_K_M")


def test_unknown_type_and_missing_input(tmp_path, f16_file):
    with pytest.raises(UnknownQuantType, match="Q4_K_M"):
        quantize_gguf(f16_file, tmp_path / "x.gguf", "Q4_K_XL")
    with pytest.raises(BadInput, match="does not exist"):
        quantize_gguf(tmp_path / "missing.gguf", tmp_path / "x.gguf", "Q8_0")


@pytest.mark.parametrize("quant", ["Q5_1", "Q4_1"])
def test_added_types_quantize_and_load(tmp_path, f16_file, quant):
    out = quantize_gguf(f16_file, tmp_path / f"{quant}.gguf", quant).output
    assert read_summary(out).file_type == quant
    assert generate(out)["usage"]["completion_tokens"] >= 1


@pytest.mark.parametrize("quant", ["IQ3_XS", "IQ3_XXS", "IQ2_M", "Q2_K_S"])
def test_types_llama_cpp_makes_only_with_an_imatrix_say_so_first(tmp_path, f16_file, tiny_shape, quant):
    with pytest.raises(BadInput, match="importance matrix"):
        quantize_gguf(f16_file, tmp_path / "x.gguf", quant)
    imatrix = tmp_path / "imatrix.gguf"
    _write_imatrix(imatrix, tiny_shape)
    out = quantize_gguf(f16_file, tmp_path / "x.gguf", quant, imatrix=imatrix).output
    assert read_summary(out).file_type == quant


def test_types_left_out_are_named(tmp_path, f16_file):
    with pytest.raises(UnknownQuantType, match="MXFP4_MOE"):  # the message lists the types there are
        quantize_gguf(f16_file, tmp_path / "x.gguf", "TQ1_0")
