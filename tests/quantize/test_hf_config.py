"""config.json -> ModelShape for Gemma 4: the released models' text configs (field names as in
transformers' Gemma4TextConfig) give exactly the named shapes that plan and synth use."""

import pytest

from quantize.errors import BadInput, UnsupportedArchitecture
from quantize.hf_config import gemma4_text_config, shape_from_config, text_config
from quantize.shapes import load_shape
from quantize.tensors import model_tensors

ROPE = {"sliding_attention": {"rope_type": "default", "rope_theta": 10000.0},
        "full_attention": {"rope_type": "proportional", "partial_rotary_factor": 0.25, "rope_theta": 1000000.0}}


def _config(n_layer, period, **fields):
    types = ["full_attention" if (i + 1) % period == 0 else "sliding_attention" for i in range(n_layer)]
    text = {"model_type": "gemma4_text", "num_hidden_layers": n_layer, "layer_types": types, "head_dim": 256,
            "global_head_dim": 512, "vocab_size": 262144, "rope_parameters": ROPE, **fields}
    return {"model_type": "gemma4", "text_config": text, "vision_config": {"model_type": "gemma4_vision"}}


RELEASED = {
    "gemma4-31b": _config(60, 6, hidden_size=5376, intermediate_size=21504, num_attention_heads=32,
                          num_key_value_heads=16, num_global_key_value_heads=4, attention_k_eq_v=True,
                          sliding_window=1024, max_position_embeddings=262144, hidden_size_per_layer_input=0),
    "gemma4-26b-a4b": _config(30, 6, hidden_size=2816, intermediate_size=2112, num_attention_heads=16,
                              num_key_value_heads=8, num_global_key_value_heads=2, attention_k_eq_v=True,
                              sliding_window=1024, max_position_embeddings=262144, enable_moe_block=True,
                              num_experts=128, top_k_experts=8, moe_intermediate_size=704,
                              hidden_size_per_layer_input=0),
    "gemma4-e4b": _config(42, 6, hidden_size=2560, intermediate_size=10240, num_attention_heads=8,
                          num_key_value_heads=2, sliding_window=512, max_position_embeddings=131072,
                          hidden_size_per_layer_input=256, num_kv_shared_layers=18),
    "gemma4-e2b": _config(35, 5, hidden_size=1536, intermediate_size=6144, num_attention_heads=8,
                          num_key_value_heads=1, sliding_window=512, max_position_embeddings=131072,
                          hidden_size_per_layer_input=256, num_kv_shared_layers=20, use_double_wide_mlp=True),
}


@pytest.mark.parametrize("name", sorted(RELEASED))
def test_released_configs_give_the_named_shapes(name):
    arch, cfg = text_config(RELEASED[name])
    shape, named = shape_from_config(arch, cfg, name), load_shape(name)
    assert arch == "gemma4"
    assert [(t.name, t.dims) for t in model_tensors(shape)] == [(t.name, t.dims) for t in model_tensors(named)]
    layers = range(named.n_layer)
    assert [shape.is_swa(il) for il in layers] == [named.is_swa(il) for il in layers]
    assert [shape.kv_heads(il) for il in layers] == [named.kv_heads(il) for il in layers]
    assert [shape.has_own_kv(il) for il in layers] == [named.has_own_kv(il) for il in layers]
    assert (shape.n_swa, shape.n_ctx_train, shape.rope_freq_base, shape.rope_freq_base_swa) == \
        (named.n_swa, named.n_ctx_train, named.rope_freq_base, named.rope_freq_base_swa)


def test_text_only_config_and_defaults():
    arch, cfg = text_config({"model_type": "gemma4_text", "hidden_size": 64, "num_hidden_layers": 7,
                             "num_attention_heads": 2, "num_key_value_heads": 1, "intermediate_size": 128})
    shape = shape_from_config(arch, cfg, "t")
    # transformers' defaults: 5 sliding : 1 full, the last layer full; heads 256 / 512; window 512
    assert [shape.is_swa(il) for il in range(7)] == [True] * 5 + [False, False]
    assert (shape.head_dim, shape.head_dim_global, shape.n_swa) == (256, 512, 512)
    assert shape.n_head_kv_global == 0 and not shape.k_eq_v_global


def test_bad_configs_are_named():
    with pytest.raises(UnsupportedArchitecture, match="'gemma3n_text'"):
        text_config({"model_type": "gemma3n", "text_config": {"model_type": "gemma3n_text"}})
    with pytest.raises(BadInput, match="hidden_size"):
        shape_from_config("gemma4", {"num_hidden_layers": 2}, "x")
    bad = dict(RELEASED["gemma4-e2b"]["text_config"], layer_types=["sliding_attention"] * 3)
    with pytest.raises(BadInput, match="3 layer_types for 35 layers"):
        shape_from_config("gemma4", bad, "x")


@pytest.mark.parametrize("name", ["gemma4-e2b", "gemma4-e4b", "gemma4-31b", "gemma4-26b-a4b"])
def test_a_named_gemma4_shape_round_trips_through_its_transformers_config(name):
    """tune's memory benchmark builds checkpoints from this config: it must be the same model."""
    shape = load_shape(name)
    back = shape_from_config("gemma4", gemma4_text_config(shape), name)
    assert back.swa_layers == tuple(shape.is_swa(il) for il in range(shape.n_layer))
    assert back.rope_dim_swa == shape.head_dim  # 0 in the table means the whole head
    same = ("swa_layers", "swa_period", "rope_dim_swa")
    assert {f: getattr(back, f) for f in vars(shape) if f not in same} == {f: getattr(shape, f) for f in vars(shape) if f not in same}


def test_gemma4_text_config_refuses_a_gemma3_shape():
    with pytest.raises(UnsupportedArchitecture):
        gemma4_text_config(load_shape("gemma3-270m"))
