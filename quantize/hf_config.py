"""A Hugging Face Gemma checkpoint's config.json as a ModelShape (the hyper-parameters the GGUF
metadata and tensor list are made from).

Gemma 4 (transformers' Gemma4TextConfig, nested under ``text_config`` in the multimodal
checkpoints): ``layer_types`` names each layer sliding or full; sliding layers have heads of
``head_dim`` (256), full layers of ``global_head_dim`` (512) with ``num_global_key_value_heads``
when ``attention_k_eq_v`` (V is K there: no v_proj); ``rope_parameters`` gives each kind its
theta, and full layers rotate only ``partial_rotary_factor`` of their head ("proportional");
E2B/E4B add per-layer embeddings (``hidden_size_per_layer_input``) and reuse the KV of earlier
layers in their last ``num_kv_shared_layers`` layers (double-wide MLP there with
``use_double_wide_mlp``); 26B-A4B runs ``num_experts`` experts of ``moe_intermediate_size``
beside the dense MLP (``enable_moe_block``).
"""

from __future__ import annotations

from quantize.errors import BadInput, UnsupportedArchitecture
from quantize.shapes import ModelShape

ARCHS = {"gemma3": "gemma3", "gemma3_text": "gemma3", "gemma4": "gemma4", "gemma4_text": "gemma4"}
GEMMA4_ROPE = {"sliding_attention": {"rope_theta": 10_000.0},
               "full_attention": {"rope_type": "proportional", "partial_rotary_factor": 0.25,
                                  "rope_theta": 1_000_000.0}}
"""transformers' defaults when config.json has no rope_parameters."""


def text_config(config: dict) -> tuple[str, dict]:
    """(arch, the text model's config): gemma3 or gemma4, else UnsupportedArchitecture."""
    text = config.get("text_config") or config
    names = [text.get("model_type"), config.get("model_type")]
    arch = next((ARCHS[n] for n in names if n in ARCHS), None)
    if arch is None:
        found = next((n for n in names if n), "?")
        raise UnsupportedArchitecture(
            f"config.json says model_type {found!r}; convert handles Gemma 3 (gemma3, gemma3_text) and "
            "Gemma 4 (gemma4, gemma4_text). For other models use llama.cpp's convert_hf_to_gguf.py.")
    return arch, text


def shape_from_config(arch: str, cfg: dict, name: str) -> ModelShape:
    return _gemma4(cfg, name) if arch == "gemma4" else _gemma3(cfg, name)


def _gemma3(cfg: dict, name: str) -> ModelShape:
    head_dim = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
    return ModelShape(
        name=name, arch="gemma3", n_layer=cfg["num_hidden_layers"], n_embd=cfg["hidden_size"],
        n_ff=cfg["intermediate_size"], n_head=cfg["num_attention_heads"],
        n_head_kv=cfg.get("num_key_value_heads", cfg["num_attention_heads"]), head_dim=head_dim,
        n_swa=cfg.get("sliding_window", 0) or 0, swa_period=cfg.get("sliding_window_pattern", 6),
        n_vocab=cfg["vocab_size"], n_ctx_train=cfg.get("max_position_embeddings", 131072),
        rope_freq_base=float(cfg.get("rope_theta", 1_000_000.0)),
        rope_freq_base_swa=float(cfg.get("rope_local_base_freq", 10_000.0)),
    )


def _gemma4(cfg: dict, name: str) -> ModelShape:
    need = [k for k in ("hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
                        "intermediate_size") if k not in cfg]
    if need:
        raise BadInput(f"config.json's text config lacks {', '.join(need)}: is it a Gemma 4 checkpoint's config?")
    n_layer = cfg["num_hidden_layers"]
    swa = _layer_types(cfg, n_layer)
    rope = cfg.get("rope_parameters") or GEMMA4_ROPE
    local, full = rope.get("sliding_attention", {}), rope.get("full_attention", {})
    k_eq_v = bool(cfg.get("attention_k_eq_v", False))
    head_dim = cfg.get("head_dim", 256)
    experts = (cfg.get("num_experts") or 0) if cfg.get("enable_moe_block", bool(cfg.get("num_experts"))) else 0
    return ModelShape(
        name=name, arch="gemma4", n_layer=n_layer, n_embd=cfg["hidden_size"], n_ff=cfg["intermediate_size"],
        n_head=cfg["num_attention_heads"], n_head_kv=cfg["num_key_value_heads"], head_dim=head_dim,
        head_dim_global=cfg.get("global_head_dim", 512),
        # transformers gives full layers the global KV head count only with attention_k_eq_v
        n_head_kv_global=(cfg.get("num_global_key_value_heads") or 0) if k_eq_v else 0, k_eq_v_global=k_eq_v,
        n_swa=cfg.get("sliding_window", 512), swa_period=6, swa_layers=swa,
        n_vocab=cfg.get("vocab_size", 262144), n_ctx_train=cfg.get("max_position_embeddings", 131072),
        n_embd_per_layer=cfg.get("hidden_size_per_layer_input") or 0,
        n_kv_shared_layers=cfg.get("num_kv_shared_layers") or 0,
        double_wide_shared_ffn=bool(cfg.get("use_double_wide_mlp", False)),
        n_expert=experts, n_expert_used=(cfg.get("top_k_experts") or 0) if experts else 0,
        n_ff_expert=(cfg.get("moe_intermediate_size") or 0) if experts else 0,
        rope_freq_base=float(full.get("rope_theta", 1_000_000.0)),
        rope_freq_base_swa=float(local.get("rope_theta", 10_000.0)),
        rope_dim_swa=int(head_dim * local.get("partial_rotary_factor", cfg.get("partial_rotary_factor", 1.0))),
        final_logit_softcapping=float(cfg.get("final_logit_softcapping") or 0.0),
    )


def _layer_types(cfg: dict, n_layer: int) -> tuple[bool, ...]:
    """True for a sliding-window layer. Without layer_types: 5 sliding, 1 full (transformers'
    default); the last layer is always full, as transformers forces it."""
    types = cfg.get("layer_types") or ["full_attention" if (i + 1) % 6 == 0 else "sliding_attention"
                                       for i in range(n_layer)]
    if len(types) != n_layer:
        raise BadInput(f"config.json has {len(types)} layer_types for {n_layer} layers.")
    unknown = sorted(set(types) - {"sliding_attention", "full_attention"})
    if unknown:
        raise BadInput(f"config.json's layer_types has {unknown}; Gemma 4 has sliding_attention and full_attention.")
    return tuple(t == "sliding_attention" for t in types[:-1]) + (False,)


def global_rotary_factor(cfg: dict) -> float:
    """Share of a full-attention head that RoPE rotates (Gemma 4's "proportional" RoPE: 0.25)."""
    full = (cfg.get("rope_parameters") or GEMMA4_ROPE).get("full_attention", {})
    return float(full.get("partial_rotary_factor", 1.0))


def gemma4_text_config(shape: ModelShape) -> dict:
    """transformers' Gemma4TextConfig for a Gemma 4 shape: the inverse of ``shape_from_config``,
    so a named shape can be built as a random-weight checkpoint (tune's memory benchmark)."""
    if shape.arch != "gemma4":
        raise UnsupportedArchitecture(f"{shape.name} is a {shape.arch!r} shape; this makes Gemma 4 configs.")
    types = ["sliding_attention" if shape.is_swa(il) else "full_attention" for il in range(shape.n_layer)]
    rope = {"sliding_attention": {"rope_type": "default", "rope_theta": shape.rope_freq_base_swa},
            "full_attention": dict(GEMMA4_ROPE["full_attention"], rope_theta=shape.rope_freq_base)}
    experts = {"enable_moe_block": bool(shape.n_expert), "num_experts": shape.n_expert or None,
               "top_k_experts": shape.n_expert_used or None, "moe_intermediate_size": shape.n_ff_expert or None}
    return {"model_type": "gemma4_text", "hidden_size": shape.n_embd, "intermediate_size": shape.n_ff,
            "num_hidden_layers": shape.n_layer, "num_attention_heads": shape.n_head,
            "num_key_value_heads": shape.n_head_kv, "head_dim": shape.head_dim,
            "global_head_dim": shape.head_dim_global or shape.head_dim,
            "num_global_key_value_heads": shape.n_head_kv_global or None, "attention_k_eq_v": shape.k_eq_v_global,
            "sliding_window": shape.n_swa, "layer_types": types, "rope_parameters": rope,
            "vocab_size": shape.n_vocab, "max_position_embeddings": shape.n_ctx_train,
            "hidden_size_per_layer_input": shape.n_embd_per_layer, "num_kv_shared_layers": shape.n_kv_shared_layers,
            "use_double_wide_mlp": shape.double_wide_shared_ffn,
            "final_logit_softcapping": shape.final_logit_softcapping or None, "tie_word_embeddings": True,
            **experts}
