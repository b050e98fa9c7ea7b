"""`gemma-quantize convert`: a Hugging Face Gemma 3 checkpoint (config.json + safetensors) to an
F16/BF16/F32 GGUF, written with the gguf library's tensor-name map and writer, one tensor at a
time so memory stays at about the largest tensor.

The tokenizer is copied from a GGUF with the same vocabulary (default: the bundled Gemma 3 270M,
which has Gemma 3's 262,144 tokens); reading tokenizer.model / tokenizer.json is not done here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import gguf
import numpy as np

from quantize.checkpoint import StoredTensor, index_tensors, load_f32, read_config
from quantize.errors import MissingTensor, UnknownQuantType, UnsupportedArchitecture
from quantize.gguf_write import Progress, add_hparams, check_output, copy_tokenizer, tensor_nbytes, write_streamed
from quantize.shapes import ModelShape
from quantize.tensors import model_tensors

Q = gguf.GGMLQuantizationType
OUT_TYPES = {"F16": (Q.F16, gguf.LlamaFileType.MOSTLY_F16), "BF16": (Q.BF16, gguf.LlamaFileType.MOSTLY_BF16),
             "F32": (Q.F32, gguf.LlamaFileType.ALL_F32)}
ARCHS = {"gemma3": gguf.MODEL_ARCH.GEMMA3, "gemma3_text": gguf.MODEL_ARCH.GEMMA3}
NESTED_PREFIXES = {"model.language_model.": "model.", "language_model.model.": "model.",
                   "language_model.lm_head.": "lm_head."}
NOT_TEXT = ("vision_tower", "multi_modal_projector", "audio_tower", "embed_vision", "embed_audio")


@dataclass
class ConvertResult:
    output: Path
    arch: str
    out_type: str
    n_tensors: int
    bytes: int
    notes: list[str] = field(default_factory=list)


def text_config(config: dict) -> tuple[str, dict]:
    model_type = config.get("model_type", "?")
    text = config.get("text_config") or config
    arch = text.get("model_type", model_type)
    if arch not in ARCHS:
        raise UnsupportedArchitecture(
            f"config.json says model_type {arch!r}; convert handles Gemma 3 (gemma3, gemma3_text). "
            "Gemma 4: use a published GGUF, or llama.cpp's converter, then `gemma-quantize quantize`."
        )
    return "gemma3", text


def shape_from_config(cfg: dict, name: str) -> ModelShape:
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


def gguf_names(stored: dict[str, StoredTensor], shape: ModelShape) -> tuple[dict[str, str], list[str]]:
    """GGUF name -> checkpoint name, and the checkpoint tensors left out (vision tower, tied head)."""
    name_map = gguf.get_tensor_name_map(ARCHS["gemma3"], shape.n_layer)
    mapped, left_out = {}, []
    for hf_name in stored:
        target = name_map.get_name(_text_name(hf_name), try_suffixes=(".weight", ".bias"))
        if target is None or any(part in hf_name for part in NOT_TEXT) or target == "output.weight":
            left_out.append(hf_name)
            continue
        mapped[target] = hf_name
    missing = [s.name for s in model_tensors(shape) if s.name not in mapped]
    if missing:
        raise MissingTensor(f"The checkpoint lacks {len(missing)} tensors Gemma 3 needs, e.g. {missing[:3]}. "
                            "Is the download complete (every *.safetensors shard)?")
    return mapped, left_out


def _text_name(hf_name: str) -> str:
    for prefix, replacement in NESTED_PREFIXES.items():
        if hf_name.startswith(prefix):
            return replacement + hf_name[len(prefix):]
    return hf_name


def convert(folder: Path, out: Path, out_type: str = "F16", *, tokenizer_from: Path, force: bool = False,
            progress: Progress | None = None) -> ConvertResult:
    qtype, ftype = _out_type(out_type)
    arch, cfg = text_config(read_config(folder))
    shape = shape_from_config(cfg, folder.name)
    stored = index_tensors(folder)
    mapped, left_out = gguf_names(stored, shape)
    specs = model_tensors(shape)
    check_output(out, force, sum(tensor_nbytes(s.dims, Q.F32 if s.is_norm else qtype) for s in specs) + (64 << 20))
    writer = gguf.GGUFWriter(out, arch)
    copy_tokenizer(writer, tokenizer_from, n_vocab=shape.n_vocab)
    add_hparams(writer, shape, cfg.get("_name_or_path") or folder.name, int(ftype))
    _add_rope_scaling(writer, cfg)
    plan = [(s.name, s.dims, Q.F32 if s.is_norm else qtype, _loader(stored[mapped[s.name]], s.is_norm, qtype))
            for s in specs]
    write_streamed(writer, out, plan, progress)
    notes = [f"Left out {len(left_out)} tensors that are not part of the text model: {left_out[:3]}"] if left_out else []
    return ConvertResult(out, arch, out_type.upper(), len(plan), out.stat().st_size, notes)


def _out_type(out_type: str):
    try:
        return OUT_TYPES[out_type.upper()]
    except KeyError:
        raise UnknownQuantType(f"convert writes {', '.join(OUT_TYPES)}; got {out_type!r}. "
                               "Quantize the result with `gemma-quantize quantize`.") from None


def _loader(t: StoredTensor, is_norm: bool, qtype: Q):
    def load() -> np.ndarray:
        data = load_f32(t)
        if is_norm:  # Gemma's RMSNorm scales by (1 + w); llama.cpp multiplies by the stored weight
            return data + np.float32(1.0)
        if qtype == Q.F16:
            return data.astype(np.float16)
        return gguf.quants.quantize(data, qtype) if qtype == Q.BF16 else data
    return load


def _add_rope_scaling(writer: gguf.GGUFWriter, cfg: dict) -> None:
    scaling = cfg.get("rope_scaling") or {}
    if scaling.get("rope_type", scaling.get("type")) == "linear" and scaling.get("factor"):
        writer.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        writer.add_rope_scaling_factor(float(scaling["factor"]))
