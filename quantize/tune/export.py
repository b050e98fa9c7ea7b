"""Writing a trained PEFT LoRA as a GGUF LoRA adapter that llama.cpp loads (``model.lora_path``).

The layout llama.cpp reads (llama-adapter.cpp): general.type "adapter", adapter.type "lora",
adapter.lora.alpha, and per adapted tensor ``<gguf name>.lora_a`` (PEFT's lora_A, [rank, n_in]
in numpy order) and ``<gguf name>.lora_b`` (lora_B, [n_out, rank]), named by the same gguf
tensor-name map as ``gemma-quantize convert`` names the base's weights. Every name is checked
against the base GGUF, so an adapter that would not load is never written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import gguf
import numpy as np

from lsp_server.model.adapters import check_adapters
from lsp_server.model.gguf_header import read_header
from quantize.convert import GGUF_ARCHS, gguf_tensor_name
from quantize.errors import OutputExists, UnsupportedArchitecture

PEFT_NAME = re.compile(r"^(?:base_model\.model\.)?(?P<module>.+)\.lora_(?P<which>[AB])(?:\.default)?\.weight$")


@dataclass(frozen=True)
class Exported:
    output: Path
    tensors: int
    """Base tensors the adapter changes."""
    rank: int
    alpha: float
    bytes: int


def lora_tensors(state: dict[str, np.ndarray], arch: str, n_layer: int) -> dict[str, np.ndarray]:
    """PEFT's state dict (``...q_proj.lora_A.weight``) -> GGUF names (``blk.0.attn_q.weight.lora_a``)."""
    name_map = gguf.get_tensor_name_map(GGUF_ARCHS[arch], n_layer)
    tensors = {}
    for name, value in state.items():
        match = PEFT_NAME.match(name)
        if match is None:
            raise ValueError(f"{name} is not a LoRA tensor PEFT writes (…lora_A.weight / …lora_B.weight)")
        target = gguf_tensor_name(name_map, match["module"] + ".weight")
        if target is None:
            raise ValueError(f"gguf's tensor-name map has no name for {match['module']}")
        tensors[f"{target}.lora_{match['which'].lower()}"] = value
    return tensors


def write_adapter(tensors: dict[str, np.ndarray], base: Path, out: Path, alpha: float, force: bool = False) -> Exported:
    """Write the adapter beside nothing it would overwrite, then check it against ``base``."""
    if out.exists() and not force:
        raise OutputExists(f"{out} exists: pass --force to overwrite it, or choose another name.")
    header = read_header(base)
    arch = header.get("general.architecture")
    if arch not in GGUF_ARCHS:
        raise UnsupportedArchitecture(f"{base.name} is a {arch!r} model; tune makes adapters of gemma3 and gemma4 models.")
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    writer = gguf.GGUFWriter(str(partial), arch)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(alpha))
    writer.add_name(f"{header.get('general.name', base.stem)} LoRA")
    for name in sorted(tensors):
        writer.add_tensor(name, np.ascontiguousarray(tensors[name], dtype=np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    try:
        facts = check_adapters((partial,), base)[0]
    except Exception:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(out)
    return Exported(out, facts.tensors, facts.rank, float(alpha), out.stat().st_size)


def export_peft(model, base: Path, out: Path, alpha: float, force: bool = False) -> Exported:
    """The LoRA weights of a trained PEFT model, as a GGUF adapter of ``base``."""
    from peft import get_peft_model_state_dict

    header = read_header(base)
    arch = header.get("general.architecture")
    n_layer = int(header.get(f"{arch}.block_count", 0))
    state = {k: v.detach().float().cpu().numpy() for k, v in get_peft_model_state_dict(model, save_embedding_layers=False).items()}
    return write_adapter(lora_tensors(state, arch, n_layer), base, out, alpha, force)
