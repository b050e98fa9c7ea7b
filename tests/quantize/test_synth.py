import pytest

from quantize.errors import OutputExists, UnknownQuantType
from quantize.gguf_meta import read_summary
from quantize.plan import recommend
from quantize.synth import synth
from quantize.tensors import model_tensors

from .conftest import generate, reduced_gemma4


def test_synth_writes_a_file_llama_cpp_loads_and_runs(tmp_path, bundled_gguf, tiny_shape):
    out = tmp_path / "tiny.gguf"
    written = synth(tiny_shape, out, "Q4_K_M", tokenizer_from=bundled_gguf)
    summary = read_summary(out)
    assert [t.name for t in summary.tensors] == [s.name for s in model_tensors(written)]
    assert summary.file_type == "Q4_K_M"
    assert {t.type_name for t in summary.tensors if len(t.dims) == 2} == {"Q4_K"}
    assert summary.shape.n_layer == 2 and summary.shape.n_vocab == 262144
    answer = generate(out)
    assert answer["usage"]["completion_tokens"] >= 1


def test_plan_reads_the_written_file_exactly(tmp_path, bundled_gguf, tiny_shape):
    out = tmp_path / "tiny.gguf"
    synth(tiny_shape, out, "Q8_0", tokenizer_from=bundled_gguf)
    rec = recommend(out, 0)
    payload = out.stat().st_size
    assert rec.estimate.weights_host == sum(t.n_bytes for t in read_summary(out).tensors)
    assert payload - rec.estimate.weights_host < 8 << 20  # the rest is the tokenizer and header
    assert rec.file_type == "Q8_0"


def test_synth_refuses_to_overwrite(tmp_path, bundled_gguf, tiny_shape):
    out = tmp_path / "exists.gguf"
    out.write_bytes(b"keep me")
    with pytest.raises(OutputExists, match="--force"):
        synth(tiny_shape, out, "Q8_0", tokenizer_from=bundled_gguf)
    assert out.read_bytes() == b"keep me"


def test_synth_names_the_types_it_writes(tmp_path, bundled_gguf, tiny_shape):
    with pytest.raises(UnknownQuantType, match="Q4_K_M"):
        synth(tiny_shape, tmp_path / "x.gguf", "Q3_K_XL", tokenizer_from=bundled_gguf)


@pytest.mark.parametrize("name", ["gemma4-31b", "gemma4-26b-a4b", "gemma4-e2b"])
def test_gemma4_variants_load_and_run(tmp_path, bundled_gguf, name):
    shape = reduced_gemma4(name)
    out = tmp_path / f"{name}.gguf"
    synth(shape, out, "Q8_0", tokenizer_from=bundled_gguf)
    summary = read_summary(out)
    assert summary.shape.arch == "gemma4"
    assert summary.shape.swa_layers == tuple(shape.is_swa(il) for il in range(shape.n_layer))
    assert generate(out)["usage"]["completion_tokens"] >= 1
