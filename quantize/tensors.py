"""The tensor list of a shape: GGUF names and dims (dims[0] is the row length).

What llama.cpp (as bundled with llama-cpp-python 0.3.36) loads for gemma3 and gemma4: checked by
loading synthetic files of each variant (dense, MoE, per-layer embeddings with KV-shared layers).
The named shapes' parameter counts match the model cards.
"""

from __future__ import annotations

from dataclasses import dataclass

from quantize.shapes import ModelShape


@dataclass(frozen=True)
class TensorSpec:
    name: str
    dims: tuple[int, ...]

    @property
    def n_elements(self) -> int:
        count = 1
        for d in self.dims:
            count *= d
        return count

    @property
    def is_norm(self) -> bool:
        return len(self.dims) == 1


def model_tensors(shape: ModelShape) -> list[TensorSpec]:
    specs = [TensorSpec("token_embd.weight", (shape.n_embd, shape.n_vocab)),
             TensorSpec("output_norm.weight", (shape.n_embd,))]
    if shape.arch == "gemma4":  # per-dimension RoPE frequency factors of the global layers
        specs.append(TensorSpec("rope_freqs.weight", ((shape.head_dim_global or shape.head_dim) // 2,)))
    if shape.n_embd_per_layer:
        specs += _ple_globals(shape)
    for il in range(shape.n_layer):
        specs += layer_tensors(shape, il)
    return specs


def layer_tensors(shape: ModelShape, il: int) -> list[TensorSpec]:
    specs = _attention(shape, il) + _norms(shape, il) + _ffn(shape, il)
    if shape.n_embd_per_layer:
        specs += _ple_layer(shape, il)
    if shape.arch == "gemma4":  # the scalar the layer's output is multiplied by (transformers' layer_scalar)
        specs.append(TensorSpec(f"blk.{il}.layer_output_scale.weight", (1,)))
    return specs


def _attention(shape: ModelShape, il: int) -> list[TensorSpec]:
    p, e, hd = f"blk.{il}.", shape.n_embd, shape.head_size(il)
    q, kv = shape.n_head * hd, shape.kv_heads(il) * hd
    specs = [TensorSpec(p + "attn_q.weight", (e, q)), TensorSpec(p + "attn_k.weight", (e, kv))]
    if not (shape.k_eq_v_global and not shape.is_swa(il)):
        specs.append(TensorSpec(p + "attn_v.weight", (e, kv)))
    specs += [TensorSpec(p + "attn_output.weight", (q, e)),
              TensorSpec(p + "attn_q_norm.weight", (hd,)), TensorSpec(p + "attn_k_norm.weight", (hd,))]
    return specs


def _norms(shape: ModelShape, il: int) -> list[TensorSpec]:
    names = ["attn_norm", "post_attention_norm", "ffn_norm", "post_ffw_norm"]
    if shape.n_expert:
        names += ["pre_ffw_norm_2", "post_ffw_norm_1", "post_ffw_norm_2"]
    return [TensorSpec(f"blk.{il}.{n}.weight", (shape.n_embd,)) for n in names]


def _ffn(shape: ModelShape, il: int) -> list[TensorSpec]:
    p, e, ff = f"blk.{il}.", shape.n_embd, shape.ff_length(il)
    specs = [TensorSpec(p + "ffn_gate.weight", (e, ff)), TensorSpec(p + "ffn_up.weight", (e, ff)),
             TensorSpec(p + "ffn_down.weight", (ff, e))]
    if shape.n_expert:
        x, fe = shape.n_expert, shape.n_ff_expert
        specs += [TensorSpec(p + "ffn_gate_inp.weight", (e, x)), TensorSpec(p + "ffn_gate_inp.scale", (e,)),
                  TensorSpec(p + "ffn_gate_up_exps.weight", (e, 2 * fe, x)),
                  TensorSpec(p + "ffn_down_exps.weight", (fe, e, x)), TensorSpec(p + "ffn_down_exps.scale", (x,))]
    return specs


def _ple_globals(shape: ModelShape) -> list[TensorSpec]:
    total = shape.n_embd_per_layer * shape.n_layer
    return [TensorSpec("per_layer_token_embd.weight", (total, shape.n_vocab)),
            TensorSpec("per_layer_model_proj.weight", (shape.n_embd, total)),
            TensorSpec("per_layer_proj_norm.weight", (shape.n_embd_per_layer,))]


def _ple_layer(shape: ModelShape, il: int) -> list[TensorSpec]:
    p, e, w = f"blk.{il}.", shape.n_embd, shape.n_embd_per_layer
    return [TensorSpec(p + "inp_gate.weight", (e, w)), TensorSpec(p + "proj.weight", (w, e)),
            TensorSpec(p + "post_norm.weight", (e,))]


def parameter_count(shape: ModelShape) -> int:
    return sum(t.n_elements for t in model_tensors(shape))
