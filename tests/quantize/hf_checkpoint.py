"""Tiny Hugging Face checkpoints written by the tests: config.json, safetensors shards (bfloat16
weights, float32 norms) with transformers' tensor names, and a tokenizer.json made from the
bundled Gemma 3 GGUF's vocabulary (so nothing is downloaded)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from safetensors import numpy as safetensors_numpy

from lsp_server.model.gguf_header import read_header

CONTROL, USER_DEFINED, NORMAL, BYTE = 3, 4, 1, 6
ROPE = {"sliding_attention": {"rope_type": "default", "rope_theta": 10000.0},
        "full_attention": {"rope_type": "proportional", "partial_rotary_factor": 0.25, "rope_theta": 1000000.0}}


def bf16(a: np.ndarray) -> np.ndarray:
    return (a.astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)


def bf16_values(a: np.ndarray) -> np.ndarray:
    return (bf16(a).astype(np.uint32) << 16).view(np.float32)


def write_checkpoint(folder: Path, tensors: dict[str, np.ndarray], config: dict,
                     tokenizer: dict | None = None) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(config))
    big = {k: v for k, v in tensors.items() if v.ndim >= 2}
    small = {k: v for k, v in tensors.items() if v.ndim < 2}
    safetensors_numpy.save_file(small, str(folder / "model-00002-of-00002.safetensors"))
    # numpy has no bfloat16: write the bf16 shard's bytes as uint16, then relabel the dtype.
    path = folder / "model-00001-of-00002.safetensors"
    safetensors_numpy.save_file({k: bf16(v) for k, v in big.items()}, str(path))
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = raw[8:8 + n].replace(b'"U16"', b'"BF16"')
    path.write_bytes(len(header).to_bytes(8, "little") + header + raw[8 + n:])
    if tokenizer is not None:
        (folder / "tokenizer.json").write_text(json.dumps(tokenizer), encoding="utf-8")
        (folder / "tokenizer_config.json").write_text(json.dumps(
            {"bos_token": "<bos>", "eos_token": "<eos>", "unk_token": "<unk>", "pad_token": "<pad>",
             "add_bos_token": True, "add_eos_token": False}))
    return folder


def tokenizer_json(gguf_path: Path, merges: list[str] | None = None) -> dict:
    """What transformers saves for Gemma: a BPE model (ordinary and byte pieces) with byte
    fallback, and the control and user-defined pieces as added tokens."""
    header = read_header(gguf_path)
    tokens, types = header.get("tokenizer.ggml.tokens"), header.get("tokenizer.ggml.token_type")
    vocab = {t: i for i, (t, k) in enumerate(zip(tokens, types)) if k in (NORMAL, BYTE)}
    added = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": k == CONTROL}
             for i, (t, k) in enumerate(zip(tokens, types)) if k not in (NORMAL, BYTE)]
    model = {"type": "BPE", "dropout": None, "unk_token": "<unk>", "fuse_unk": True, "byte_fallback": True,
             "vocab": vocab, "merges": [m.split(" ") for m in (merges or [])]}
    return {"version": "1.0", "added_tokens": added, "model": model,
            "normalizer": {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}}


def gemma4_text_config(**changes) -> dict:
    """A reduced Gemma 4 text config, 31B-like: full layers with wider heads (256 here, 512 in the
    real model), fewer KV heads and no V projection (attention_k_eq_v)."""
    cfg = {"model_type": "gemma4_text", "hidden_size": 256, "intermediate_size": 512, "num_hidden_layers": 6,
           "num_attention_heads": 2, "num_key_value_heads": 1, "num_global_key_value_heads": 1,
           "head_dim": 128, "global_head_dim": 256, "attention_k_eq_v": True, "sliding_window": 64,
           "layer_types": ["sliding_attention"] * 5 + ["full_attention"], "rope_parameters": ROPE,
           "final_logit_softcapping": 30.0, "vocab_size": 262144, "max_position_embeddings": 2048,
           "hidden_size_per_layer_input": 0, "num_kv_shared_layers": 0, "use_double_wide_mlp": False,
           "enable_moe_block": False, "rms_norm_eps": 1e-6, "hidden_activation": "gelu_pytorch_tanh"}
    cfg.update(changes)
    return cfg


def gemma4_config(text: dict) -> dict:
    """The multimodal checkpoint's config.json: the text config nested, a vision config beside it."""
    return {"architectures": ["Gemma4ForConditionalGeneration"], "model_type": "gemma4", "text_config": text,
            "vision_config": {"model_type": "gemma4_vision", "hidden_size": 32}, "tie_word_embeddings": True}


def gemma4_tensors(cfg: dict, rng: np.random.Generator, prefix: str = "model.language_model.") -> dict:
    """Random weights with transformers' Gemma 4 names and shapes ([out, in] for linear layers)."""
    e, n_layer = cfg["hidden_size"], cfg["num_hidden_layers"]
    ple = cfg.get("hidden_size_per_layer_input") or 0
    t = {prefix + "embed_tokens.weight": _w(rng, cfg["vocab_size"], e, scale=0.02),
         prefix + "norm.weight": np.ones(e)}
    if ple:
        t |= {prefix + "embed_tokens_per_layer.weight": _w(rng, cfg["vocab_size"], n_layer * ple, scale=0.02),
              prefix + "per_layer_model_projection.weight": _w(rng, n_layer * ple, e),
              prefix + "per_layer_projection_norm.weight": np.ones(ple)}
    for il in range(n_layer):
        t |= _gemma4_layer(cfg, il, rng, f"{prefix}layers.{il}.")
    t["model.vision_tower.encoder.layers.0.mlp.up_proj.linear.weight"] = _w(rng, 64, 32)
    return {k: np.asarray(v, dtype=np.float32) for k, v in t.items()}


def _gemma4_layer(cfg: dict, il: int, rng: np.random.Generator, p: str) -> dict:
    e, nh = cfg["hidden_size"], cfg["num_attention_heads"]
    full = cfg["layer_types"][il] == "full_attention"
    hd = cfg["global_head_dim"] if full else cfg["head_dim"]
    kv = cfg["num_global_key_value_heads"] if full and cfg["attention_k_eq_v"] else cfg["num_key_value_heads"]
    shared_from = cfg["num_hidden_layers"] - cfg["num_kv_shared_layers"]
    ff = cfg["intermediate_size"] * (2 if cfg["use_double_wide_mlp"] and il >= shared_from else 1)
    t = {p + "self_attn.q_proj.weight": _w(rng, nh * hd, e), p + "self_attn.k_proj.weight": _w(rng, kv * hd, e),
         p + "self_attn.o_proj.weight": _w(rng, e, nh * hd),
         p + "self_attn.q_norm.weight": np.ones(hd), p + "self_attn.k_norm.weight": np.ones(hd),
         p + "mlp.gate_proj.weight": _w(rng, ff, e), p + "mlp.up_proj.weight": _w(rng, ff, e),
         p + "mlp.down_proj.weight": _w(rng, e, ff), p + "layer_scalar": np.array([0.5])}
    if not (full and cfg["attention_k_eq_v"]):
        t[p + "self_attn.v_proj.weight"] = _w(rng, kv * hd, e)
    for norm in ("input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm",
                 "post_feedforward_layernorm"):
        t[p + norm + ".weight"] = 1.0 + 0.1 * rng.standard_normal(e)
    if cfg["enable_moe_block"]:
        x, fe = cfg["num_experts"], cfg["moe_intermediate_size"]
        t |= {p + "router.proj.weight": _w(rng, x, e), p + "router.scale": np.ones(e),
              p + "router.per_expert_scale": np.linspace(0.5, 1.5, x),
              p + "experts.gate_up_proj": _w(rng, x, 2 * fe, e), p + "experts.down_proj": _w(rng, x, e, fe)}
        for norm in ("pre_feedforward_layernorm_2", "post_feedforward_layernorm_1", "post_feedforward_layernorm_2"):
            t[p + norm + ".weight"] = np.ones(e)
    if cfg.get("hidden_size_per_layer_input"):
        w = cfg["hidden_size_per_layer_input"]
        t |= {p + "per_layer_input_gate.weight": _w(rng, w, e), p + "per_layer_projection.weight": _w(rng, e, w),
              p + "post_per_layer_input_norm.weight": np.ones(e)}
    return t


def _w(rng: np.random.Generator, *shape: int, scale: float = 0.05) -> np.ndarray:
    return rng.standard_normal(shape, dtype=np.float32) * scale
