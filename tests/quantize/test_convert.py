"""A tiny Gemma 3 checkpoint built here (random weights, bfloat16 and float32 shards, config.json),
converted, loaded and run by llama.cpp."""

import json

import numpy as np
import pytest

safetensors_numpy = pytest.importorskip("safetensors.numpy")

from quantize.convert import convert  # noqa: E402
from quantize.errors import MissingTensor, UnsupportedArchitecture  # noqa: E402
from lsp_server.model.gguf_header import read_header  # noqa: E402
from quantize.gguf_meta import read_summary  # noqa: E402

from .conftest import generate  # noqa: E402

CONFIG = {"architectures": ["Gemma3ForCausalLM"], "model_type": "gemma3_text", "hidden_size": 256,
          "intermediate_size": 512, "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 1,
          "head_dim": 128, "sliding_window": 64, "vocab_size": 262144, "max_position_embeddings": 2048,
          "rope_theta": 1000000.0, "rope_local_base_freq": 10000.0, "rms_norm_eps": 1e-6}


def _hf_tensors(rng):
    e, f, q, kv = 256, 512, 256, 128
    t = {"model.embed_tokens.weight": rng.standard_normal((262144, e)) * 0.02, "model.norm.weight": np.zeros(e)}
    for i in range(2):
        p = f"model.layers.{i}."
        t |= {p + "self_attn.q_proj.weight": rng.standard_normal((q, e)) * 0.05,
              p + "self_attn.k_proj.weight": rng.standard_normal((kv, e)) * 0.05,
              p + "self_attn.v_proj.weight": rng.standard_normal((kv, e)) * 0.05,
              p + "self_attn.o_proj.weight": rng.standard_normal((e, q)) * 0.05,
              p + "self_attn.q_norm.weight": np.zeros(128), p + "self_attn.k_norm.weight": np.zeros(128),
              p + "mlp.gate_proj.weight": rng.standard_normal((f, e)) * 0.05,
              p + "mlp.up_proj.weight": rng.standard_normal((f, e)) * 0.05,
              p + "mlp.down_proj.weight": rng.standard_normal((e, f)) * 0.05}
        for norm in ("input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm",
                     "post_feedforward_layernorm"):
            t[p + norm + ".weight"] = np.full(e, 0.5)
    return {k: v.astype(np.float32) for k, v in t.items()}


def _bf16(a):
    return (a.astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)


def _write_checkpoint(folder, tensors, config=CONFIG):
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config))
    big = {k: v for k, v in tensors.items() if v.ndim == 2}
    small = {k: v for k, v in tensors.items() if v.ndim == 1}
    safetensors_numpy.save_file(small, str(folder / "model-00002-of-00002.safetensors"))
    # numpy has no bfloat16: write the bf16 shard's bytes as uint16, then relabel the dtype.
    path = folder / "model-00001-of-00002.safetensors"
    safetensors_numpy.save_file({k: _bf16(v) for k, v in big.items()}, str(path))
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = raw[8:8 + n].replace(b'"U16"', b'"BF16"')
    path.write_bytes(len(header).to_bytes(8, "little") + header + raw[8 + n:])


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hf") / "gemma3-tiny"
    tensors = _hf_tensors(np.random.default_rng(0))
    _write_checkpoint(folder, tensors)
    return folder, tensors


def test_convert_to_f16_then_llama_cpp_runs_it(tmp_path, checkpoint, bundled_gguf):
    folder, tensors = checkpoint
    result = convert(folder, tmp_path / "tiny-f16.gguf", "F16", vocab_from=bundled_gguf)
    summary = read_summary(result.output)
    assert summary.file_type == "F16" and summary.shape.n_layer == 2 and summary.shape.n_vocab == 262144
    assert generate(result.output)["usage"]["completion_tokens"] >= 1


def test_converted_values_norms_plus_one_and_bf16_exact(tmp_path, checkpoint, bundled_gguf):
    folder, tensors = checkpoint
    out = convert(folder, tmp_path / "tiny-f32.gguf", "F32", vocab_from=bundled_gguf).output
    header = read_header(out)
    by_name = {t.name: t for t in header.tensors}
    data = np.memmap(out, dtype=np.uint8, mode="r")

    def values(name):
        t = by_name[name]
        return np.frombuffer(data, np.float32, count=int(np.prod(t.dims)), offset=t.offset).reshape(t.dims[::-1])

    assert np.all(values("blk.0.attn_norm.weight") == 1.5)
    expected = (_bf16(tensors["model.layers.1.mlp.down_proj.weight"]).astype(np.uint32) << 16).view(np.float32)
    assert np.array_equal(values("blk.1.ffn_down.weight"), expected)


def test_missing_shard_is_named(tmp_path, checkpoint, bundled_gguf):
    folder, tensors = checkpoint
    broken = tmp_path / "broken"
    _write_checkpoint(broken, {k: v for k, v in tensors.items() if "layers.1.mlp" not in k})
    with pytest.raises(MissingTensor, match="blk.1.ffn"):
        convert(broken, tmp_path / "x.gguf", vocab_from=bundled_gguf)


def test_other_architectures_are_refused(tmp_path, bundled_gguf):
    folder = tmp_path / "llama"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "llama"}))
    with pytest.raises(UnsupportedArchitecture, match="llama"):
        convert(folder, tmp_path / "x.gguf", vocab_from=bundled_gguf)
