"""`gemma-quantize convert`: a Hugging Face Gemma 3 or Gemma 4 checkpoint (config.json +
safetensors) to an F16/BF16/F32 GGUF, written with the gguf library's tensor-name map and writer,
one tensor at a time so memory stays at about the largest tensor.

Only the text model is converted: vision and audio towers and their projectors are left out (and
named in the result's notes). The tokenizer is the checkpoint's own (tokenizer.json, else
tokenizer.model); a GGUF of the same family (``vocab_from``) can supply it instead, and the CLI
falls back to the bundled Gemma 3 270M's for a checkpoint without one.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import gguf
import numpy as np

from quantize.checkpoint import StoredTensor, index_tensors, load_f32, read_config
from quantize.errors import BadInput, MissingTensor, UnknownQuantType
from quantize.gguf_write import (
    Progress,
    add_hparams,
    check_output,
    copy_tokenizer,
    tensor_nbytes,
    write_streamed,
)
from quantize.hf_config import global_rotary_factor, shape_from_config, text_config
from quantize.hf_tokenizer import add_vocab, has_tokenizer, read_tokenizer
from quantize.shapes import ModelShape
from quantize.tensors import TensorSpec, model_tensors

Q = gguf.GGMLQuantizationType
OUT_TYPES = {"F16": (Q.F16, gguf.LlamaFileType.MOSTLY_F16), "BF16": (Q.BF16, gguf.LlamaFileType.MOSTLY_BF16),
             "F32": (Q.F32, gguf.LlamaFileType.ALL_F32)}
GGUF_ARCHS = {"gemma3": gguf.MODEL_ARCH.GEMMA3, "gemma4": gguf.MODEL_ARCH.GEMMA4}
NESTED_PREFIXES = {"model.language_model.": "model.", "language_model.model.": "model.",
                   "language_model.lm_head.": "lm_head."}
NOT_TEXT = ("vision_tower", "multi_modal_projector", "audio_tower", "embed_vision", "embed_audio")
# Gemma 4's router: its input scale and per-expert output scale, which gguf's map does not name.
ROUTER_SCALES = {"router.scale": "ffn_gate_inp.scale", "router.per_expert_scale": "ffn_down_exps.scale"}
_LAYER = re.compile(r"^model\.layers\.(\d+)\.(.+)$")


@dataclass
class ConvertResult:
    output: Path
    arch: str
    out_type: str
    n_tensors: int
    bytes: int
    tokenizer: str
    notes: list[str] = field(default_factory=list)


Loader = Callable[[], np.ndarray]


def convert(folder: Path, out: Path, out_type: str = "F16", *, vocab_from: Path | None = None,
            fallback_vocab: Path | None = None, force: bool = False,
            progress: Progress | None = None) -> ConvertResult:
    """vocab_from: a GGUF whose tokenizer to copy instead of the checkpoint's; fallback_vocab: the
    GGUF to copy from when the checkpoint has no tokenizer.json."""
    qtype, ftype = _out_type(out_type)
    arch, cfg = text_config(read_config(folder))
    if vocab_from is None and fallback_vocab is None and not has_tokenizer(folder):
        raise BadInput(f"{folder} has no tokenizer.json or tokenizer.model. Pass --vocab-from FILE.gguf "
                       "(a GGUF of the same model family) to take the tokenizer from it.")
    shape = shape_from_config(arch, cfg, folder.name)
    mapped, left_out = gguf_names(index_tensors(folder), shape)
    plan = tensor_plan(shape, cfg, mapped, qtype)
    check_output(out, force, sum(tensor_nbytes(dims, t) for _, dims, t, _ in plan) + (64 << 20))
    partial = out.with_name(out.name + ".partial")
    writer = gguf.GGUFWriter(partial, arch)
    try:
        tokenizer = _add_tokenizer(writer, folder, arch, shape.n_vocab, vocab_from, fallback_vocab)
        add_hparams(writer, shape, cfg.get("_name_or_path") or folder.name, int(ftype))
        _add_rope_scaling(writer, cfg)
        write_streamed(writer, partial, plan, progress)
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    notes = [f"Left out {len(left_out)} tensors that are not part of the text model: {left_out[:3]}"] if left_out else []
    unused = sorted(set(mapped) - {name for name, *_ in plan})
    if unused:
        notes.append(f"Left out {len(unused)} text-model tensors that config.json gives no use: {unused[:3]}")
    return ConvertResult(out, arch, out_type.upper(), len(plan), out.stat().st_size, tokenizer, notes)


def gguf_names(stored: dict[str, StoredTensor], shape: ModelShape) -> tuple[dict[str, StoredTensor], list[str]]:
    """GGUF name -> checkpoint tensor, and the checkpoint tensors left out (vision and audio
    towers, the tied output head)."""
    name_map = gguf.get_tensor_name_map(GGUF_ARCHS[shape.arch], shape.n_layer)
    mapped, left_out = {}, []
    for hf_name, tensor in stored.items():
        target = None if any(part in hf_name for part in NOT_TEXT) else gguf_tensor_name(name_map, hf_name)
        if target is None or target == "output.weight":
            left_out.append(hf_name)
            continue
        mapped[target] = tensor
    return mapped, left_out


def gguf_tensor_name(name_map: gguf.TensorNameMap, hf_name: str) -> str | None:
    """The GGUF name of a checkpoint tensor (also what a LoRA adapter of it is named after)."""
    return _target(name_map, _text_name(hf_name))


def _target(name_map: gguf.TensorNameMap, name: str) -> str | None:
    layer = _LAYER.match(name)
    if layer and layer.group(2) in ROUTER_SCALES:
        return f"blk.{layer.group(1)}.{ROUTER_SCALES[layer.group(2)]}"
    target = name_map.get_name(name, try_suffixes=(".weight", ".bias"))
    if target is not None and not target.endswith((".weight", ".bias")):
        target += ".weight"  # Gemma 4's expert tensors and layer_scalar are stored without ".weight"
    return target


def _text_name(hf_name: str) -> str:
    for prefix, replacement in NESTED_PREFIXES.items():
        if hf_name.startswith(prefix):
            return replacement + hf_name[len(prefix):]
    return hf_name


def tensor_plan(shape: ModelShape, cfg: dict, mapped: dict[str, StoredTensor], qtype: Q):
    """(GGUF name, dims, type, loader) for every tensor to write, in llama.cpp's order."""
    specs = _specs(shape, mapped)
    missing = [s.name for s in specs if s.name not in mapped and s.name != "rope_freqs.weight"]
    if missing:
        family = "Gemma 4" if shape.arch == "gemma4" else "Gemma 3"
        raise MissingTensor(f"The checkpoint lacks {len(missing)} tensors {family} needs, e.g. {missing[:3]}. "
                            "Is the download complete (every *.safetensors shard)?")
    plan = []
    for s in specs:
        out_type = Q.F32 if s.is_norm else qtype
        if s.name == "rope_freqs.weight":
            plan.append((s.name, s.dims, Q.F32, _rope_freqs(s.dims[0], global_rotary_factor(cfg))))
            continue
        _check_dims(s, mapped[s.name])
        plan.append((s.name, s.dims, out_type, _loader(mapped[s.name], s.dims, shape.arch == "gemma3" and s.is_norm,
                                                       out_type)))
    return plan


OPTIONAL = (".layer_output_scale.", ".ffn_down_exps.scale")
"""Gemma 4 tensors llama.cpp does without (a checkpoint saved without these buffers)."""


def _specs(shape: ModelShape, mapped: dict) -> list[TensorSpec]:
    """The architecture's tensors, less the optional ones the checkpoint lacks (and, in Gemma 4's
    KV-shared layers, the K/V projections that llama.cpp does not use there)."""
    specs = model_tensors(shape)
    if shape.arch != "gemma4":
        return specs
    kept = []
    for s in specs:
        layer = _LAYER.match(s.name.replace("blk.", "model.layers.", 1))
        shared = layer is not None and not shape.has_own_kv(int(layer.group(1)))
        kv = any(p in s.name for p in (".attn_k.", ".attn_k_norm.", ".attn_v."))
        if s.name not in mapped and ((shared and kv) or any(p in s.name for p in OPTIONAL)):
            continue
        kept.append(s)
    return kept


def _check_dims(spec: TensorSpec, t: StoredTensor) -> None:
    dims = tuple(reversed(t.shape)) or (1,)
    if dims != spec.dims:
        raise BadInput(f"{spec.name}: the checkpoint's tensor has shape {list(t.shape)} but config.json implies "
                       f"{list(reversed(spec.dims))}. Does config.json belong to these weights?")


def _rope_freqs(n: int, rotary_factor: float) -> Loader:
    """Gemma 4's full layers rotate only the first part of each head ("proportional" RoPE): the
    other frequency pairs get a factor of 1e30, which makes their rotation angle zero."""
    rotated = int(n * rotary_factor)
    return lambda: np.array([1.0] * rotated + [1e30] * (n - rotated), dtype=np.float32)


def _out_type(out_type: str):
    try:
        return OUT_TYPES[out_type.upper()]
    except KeyError:
        raise UnknownQuantType(f"convert writes {', '.join(OUT_TYPES)}; got {out_type!r}. "
                               "Quantize the result with `gemma-quantize quantize`.") from None


def _loader(t: StoredTensor, dims: tuple[int, ...], plus_one: bool, qtype: Q) -> Loader:
    def load() -> np.ndarray:
        data = load_f32(t).reshape(tuple(reversed(dims)))
        if plus_one:  # Gemma 3's RMSNorm scales by (1 + w); llama.cpp multiplies by the stored weight
            return data + np.float32(1.0)
        if qtype == Q.F16:
            return data.astype(np.float16)
        return gguf.quants.quantize(data, qtype) if qtype == Q.BF16 else data
    return load


def _add_tokenizer(writer: gguf.GGUFWriter, folder: Path, arch: str, n_vocab: int,
                   vocab_from: Path | None, fallback: Path) -> str:
    if vocab_from is not None:
        copy_tokenizer(writer, vocab_from, n_vocab=n_vocab)
        return f"copied from {vocab_from}"
    if has_tokenizer(folder):
        vocab = read_tokenizer(folder)
        add_vocab(writer, vocab, folder, arch, n_vocab)
        return f"{vocab.source} ({len(vocab.tokens)} tokens)"
    copy_tokenizer(writer, fallback, n_vocab=n_vocab, gemma4=arch == "gemma4")  # the bundled one is Gemma 3's
    return f"copied from {fallback} ({folder} has no tokenizer.json or tokenizer.model)"


def _add_rope_scaling(writer: gguf.GGUFWriter, cfg: dict) -> None:
    scaling = cfg.get("rope_scaling") or {}
    if scaling.get("rope_type", scaling.get("type")) == "linear" and scaling.get("factor"):
        writer.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        writer.add_rope_scaling_factor(float(scaling["factor"]))
