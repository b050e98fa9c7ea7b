"""Tiny Gemma 4 checkpoints built here (transformers' names and shapes, random bfloat16 weights,
a tokenizer.json made from the bundled GGUF's vocabulary), converted, quantized, loaded and run by
llama.cpp, and compared with each other."""

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("safetensors.numpy")

from quantize.convert import convert
from quantize.errors import (
    BadInput,
    MissingTensor,
    NotEnoughDisk,
    UnknownQuantType,
    UnsupportedArchitecture,
)
from quantize.evaluate import evaluate
from lsp_server.model.gguf_header import read_header
from quantize.gguf_meta import read_summary
from quantize.hf_tokenizer import spm_merges
from quantize.quantizer import quantize_gguf

from .conftest import generate
from .hf_checkpoint import (
    bf16_values,
    gemma4_config,
    gemma4_tensors,
    gemma4_text_config,
    tokenizer_json,
    write_checkpoint,
)

WORKSPACE = Path(__file__).parents[1] / "e2e" / "workspace"
SAMPLE = ("def café(x):\n    return  x**2 + 中文  # 🙂 <start_of_turn>\n\n\n\tclass Foo:  pass\r\n"
          "1234567 naïve\n")
MOE = {"enable_moe_block": True, "num_experts": 4, "top_k_experts": 2, "moe_intermediate_size": 128,
       "intermediate_size": 256}
# E2B-like: 4 sliding : 1 full, per-layer embeddings, the last 5 layers reuse earlier layers' KV
PLE = {"num_hidden_layers": 10, "layer_types": (["sliding_attention"] * 4 + ["full_attention"]) * 2,
       "attention_k_eq_v": False, "num_global_key_value_heads": None, "hidden_size_per_layer_input": 16,
       "num_kv_shared_layers": 5, "use_double_wide_mlp": True}


@pytest.fixture(scope="module")
def vocab_json(bundled_gguf):
    """The bundled vocabulary as transformers would save it, merges included."""
    header = read_header(bundled_gguf)
    merges = spm_merges(header.get("tokenizer.ggml.tokens"), header.get("tokenizer.ggml.token_type"))
    return tokenizer_json(bundled_gguf, merges)


@pytest.fixture(scope="module")
def dense(tmp_path_factory, vocab_json):
    """A 31B-like checkpoint (k_eq_v full layers with wider heads) and its F16 conversion."""
    root = tmp_path_factory.mktemp("gemma4")
    cfg = gemma4_text_config()
    tensors = gemma4_tensors(cfg, np.random.default_rng(0))
    folder = write_checkpoint(root / "gemma4-tiny", tensors, gemma4_config(cfg), vocab_json)
    return folder, tensors, convert(folder, root / "gemma4-tiny-f16.gguf", "F16")


def test_convert_quantize_twice_run_both_and_compare(tmp_path, dense):
    f16 = dense[2].output
    q8 = quantize_gguf(f16, tmp_path / "q8.gguf", "Q8_0").output
    q4 = quantize_gguf(f16, tmp_path / "q4.gguf", "Q4_K_M").output
    assert (read_summary(q8).file_type, read_summary(q4).file_type) == ("Q8_0", "Q4_K_M")
    for path in (q8, q4):
        assert generate(path)["usage"]["completion_tokens"] >= 1
    r8 = evaluate(f16, q8, WORKSPACE, n_ctx=64, max_chunks=2, threads=2)
    r4 = evaluate(f16, q4, WORKSPACE, n_ctx=64, max_chunks=2, threads=2)
    assert 0 < r8.kl_mean < r4.kl_mean
    assert r8.top1_agreement > r4.top1_agreement - 0.25  # both still mostly agree with the source


def test_metadata_follows_the_config(dense):
    result = dense[2]
    header = read_header(result.output)
    get = header.get
    assert get("general.architecture") == "gemma4" and result.arch == "gemma4"
    assert get("gemma4.attention.sliding_window_pattern") == [True] * 5 + [False]
    assert get("gemma4.attention.sliding_window") == 64
    assert (get("gemma4.attention.key_length"), get("gemma4.attention.key_length_swa")) == (256, 128)
    assert (get("gemma4.rope.dimension_count"), get("gemma4.rope.dimension_count_swa")) == (256, 128)
    assert (get("gemma4.rope.freq_base"), get("gemma4.rope.freq_base_swa")) == (1e6, 1e4)
    assert get("gemma4.final_logit_softcapping") == 30.0
    assert get("gemma4.attention.head_count_kv") == [1] * 6
    assert get("tokenizer.ggml.model") == "gemma4" and len(get("tokenizer.ggml.merges")) > 500_000
    assert any("vision_tower" in note for note in result.notes)
    assert not any(t.name.startswith("v.") or "vision" in t.name for t in header.tensors)


def test_values_norms_unshifted_proportional_rope_and_layer_scale(tmp_path, dense):
    folder, tensors, _ = dense
    out = convert(folder, tmp_path / "f32.gguf", "F32").output
    values = _reader(out)
    prefix = "model.language_model.layers.0."
    assert np.array_equal(values("blk.0.attn_norm.weight"), tensors[prefix + "input_layernorm.weight"])
    assert np.array_equal(values("blk.0.layer_output_scale.weight"), [0.5])
    assert np.array_equal(values("blk.5.attn_q.weight"), bf16_values(tensors[prefix.replace(".0.", ".5.")
                                                                             + "self_attn.q_proj.weight"]))
    freqs = values("rope_freqs.weight")  # 128 pairs of a 256-wide head, a quarter of them rotated
    assert freqs.shape == (128,) and np.all(freqs[:32] == 1.0) and np.all(freqs[32:] == np.float32(1e30))
    assert "blk.5.attn_v.weight" not in {t.name for t in read_header(out).tensors}  # V is K there


def test_moe_checkpoint_experts_and_router_scales(tmp_path, bundled_gguf):
    cfg = gemma4_text_config(**MOE)
    tensors = gemma4_tensors(cfg, np.random.default_rng(1), prefix="model.")
    folder = write_checkpoint(tmp_path / "moe", tensors, gemma4_config(cfg))
    out = convert(folder, tmp_path / "moe-f32.gguf", "F32", vocab_from=bundled_gguf).output
    values = _reader(out)
    assert np.array_equal(values("blk.1.ffn_gate_up_exps.weight"),
                          bf16_values(tensors["model.layers.1.experts.gate_up_proj"]))
    assert np.array_equal(values("blk.1.ffn_down_exps.scale"), np.linspace(0.5, 1.5, 4, dtype=np.float32))
    assert read_header(out).get("gemma4.expert_count") == 4
    mx = quantize_gguf(out, tmp_path / "moe-mxfp4.gguf", "MXFP4_MOE").output
    assert {t.type_name for t in read_summary(mx).tensors if "_exps.weight" in t.name} == {"MXFP4"}
    for path in (out, mx):
        assert generate(path)["usage"]["completion_tokens"] >= 1


def test_per_layer_embeddings_and_kv_shared_layers(tmp_path, bundled_gguf):
    cfg = gemma4_text_config(**PLE)
    tensors = {k: v for k, v in gemma4_tensors(cfg, np.random.default_rng(2)).items()
               if not k.endswith("layer_scalar")}  # optional: llama.cpp then scales by nothing
    folder = write_checkpoint(tmp_path / "e2b", tensors, gemma4_config(cfg))
    out = convert(folder, tmp_path / "e2b-f16.gguf", "F16", vocab_from=bundled_gguf).output
    header = read_header(out)
    assert not any("layer_output_scale" in t.name for t in header.tensors)
    assert header.get("gemma4.attention.shared_kv_layers") == 5
    assert header.get("gemma4.embedding_length_per_layer_input") == 16
    assert header.get("gemma4.feed_forward_length") == [512] * 5 + [1024] * 5
    assert {t.name: t.dims for t in header.tensors}["per_layer_token_embd.weight"] == (160, 262144)
    assert generate(out)["usage"]["completion_tokens"] >= 1


def test_tokenizer_json_tokenizes_like_the_bundled_model(tmp_path, dense, bundled_gguf, vocab_json):
    """Gemma 4 gets llama.cpp's BPE tokenizer (with merges), Gemma 3 its SentencePiece one (with
    scores); both must give the bundled model's ids."""
    from .test_convert import CONFIG, _hf_tensors

    gemma3 = write_checkpoint(tmp_path / "g3", _hf_tensors(np.random.default_rng(3)), CONFIG,
                              tokenizer_json(bundled_gguf))
    g3 = convert(gemma3, tmp_path / "g3.gguf", "F16")
    ours, bundled = read_header(g3.output), read_header(bundled_gguf)
    for key in ("model", "tokens", "token_type", "bos_token_id", "eos_token_id", "unknown_token_id",
                "padding_token_id", "add_bos_token", "add_eos_token", "add_space_prefix"):
        assert ours.get(f"tokenizer.ggml.{key}") == bundled.get(f"tokenizer.ggml.{key}"), key
    # tokenizer.json has no scores: ordinary pieces get minus their rank. The bundled file's scores
    # fall the same way (from '▁', id 236743, on they are 31 lower still); only the order matters.
    types = np.array(bundled.get("tokenizer.ggml.token_type"))
    for scores in (np.array(ours.get("tokenizer.ggml.scores")), np.array(bundled.get("tokenizer.ggml.scores"))):
        assert np.all(np.diff(scores[types == 1]) < 0)
        assert set(scores[types == 6]) == {0.0} and set(scores[types == 3]) == {-1000.0}
    expected = _tokenize(bundled_gguf)
    assert len(expected[False]) > 30
    assert _tokenize(g3.output) == expected
    assert _tokenize(dense[2].output) == expected


def test_refusals_say_what_to_do(tmp_path, dense, bundled_gguf, monkeypatch):
    folder, tensors, _ = dense
    other = tmp_path / "gemma3n"
    write_checkpoint(other, {"x": np.ones((2, 2))}, {"model_type": "gemma3n"})
    with pytest.raises(UnsupportedArchitecture, match="gemma3n.*convert_hf_to_gguf"):
        convert(other, tmp_path / "x.gguf")
    with pytest.raises(UnknownQuantType, match="F16, BF16, F32"):
        convert(folder, tmp_path / "x.gguf", "Q4_K_M")
    broken = write_checkpoint(tmp_path / "broken", {k: v for k, v in tensors.items() if "layers.2.self_attn.k" not in k},
                              gemma4_config(gemma4_text_config()))
    with pytest.raises(MissingTensor, match="blk.2.attn_k"):
        convert(broken, tmp_path / "x.gguf", vocab_from=bundled_gguf)
    with pytest.raises(BadInput, match="--vocab-from"):
        convert(broken, tmp_path / "x.gguf")  # no tokenizer.json and no fallback given
    wrong = write_checkpoint(tmp_path / "wrong", tensors, gemma4_config(gemma4_text_config(num_attention_heads=4)))
    with pytest.raises(BadInput, match="config.json implies"):
        convert(wrong, tmp_path / "x.gguf", vocab_from=bundled_gguf)
    monkeypatch.setattr("quantize.gguf_write.shutil.disk_usage", lambda _: type("U", (), {"free": 1 << 20})())
    with pytest.raises(NotEnoughDisk, match="GiB free"):
        convert(folder, tmp_path / "x.gguf")
    assert list(tmp_path.glob("x.gguf*")) == []


def _reader(path: Path):
    header = read_header(path)
    by_name = {t.name: t for t in header.tensors}
    data = np.memmap(path, dtype=np.uint8, mode="r")

    def values(name: str) -> np.ndarray:
        t = by_name[name]
        count = int(np.prod(t.dims))
        return np.frombuffer(data, np.float32, count=count, offset=t.offset).reshape(t.dims[::-1])
    return values


def _tokenize(path: Path) -> dict[bool, list[int]]:
    import llama_cpp

    model = llama_cpp.Llama(str(path), vocab_only=True, verbose=False)
    try:
        return {special: model.tokenize(SAMPLE.encode(), add_bos=True, special=special) for special in (False, True)}
    finally:
        model.close()


def test_cli_converts_to_bf16_and_reports_json(tmp_path, dense, capsys):
    import json

    from quantize.cli import main

    folder = dense[0]
    assert main(["convert", str(folder), str(tmp_path / "bf16.gguf"), "--type", "bf16", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["arch"] == "gemma4" and report["type"] == "BF16" and "tokenizer.json" in report["tokenizer"]
    assert read_summary(tmp_path / "bf16.gguf").file_type == "BF16"
    assert generate(tmp_path / "bf16.gguf")["usage"]["completion_tokens"] >= 1
    assert main(["convert", str(folder), str(tmp_path / "bf16.gguf"), "--json"]) == 2  # exists: no --force
    assert "--force" in json.loads(capsys.readouterr().out)["error"]
