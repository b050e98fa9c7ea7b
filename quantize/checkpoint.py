"""Reading a Hugging Face checkpoint folder: config.json and safetensors shards, one tensor at a
time through a memory map (the ``safetensors`` package's numpy loader cannot return bfloat16,
the dtype Gemma ships in, so the simple format is read here)."""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from quantize.errors import BadInput

_DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": np.uint16}


@dataclass(frozen=True)
class StoredTensor:
    file: Path
    dtype: str
    shape: tuple[int, ...]
    start: int
    """Absolute byte offset in the file."""
    end: int


def read_config(folder: Path) -> dict:
    path = folder / "config.json"
    if not path.is_file():
        raise BadInput(f"{folder} has no config.json: give the folder of a Hugging Face checkpoint.")
    return json.loads(path.read_text(encoding="utf-8"))


def index_tensors(folder: Path) -> dict[str, StoredTensor]:
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise BadInput(f"{folder} has no .safetensors files. Save the checkpoint with safetensors first.")
    tensors: dict[str, StoredTensor] = {}
    for file in files:
        tensors.update(_index_file(file))
    return tensors


def _index_file(file: Path) -> dict[str, StoredTensor]:
    with file.open("rb") as handle:
        (length,) = struct.unpack("<Q", handle.read(8))
        header = json.loads(handle.read(length))
    base = 8 + length
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] not in _DTYPES:
            raise BadInput(f"{file.name}: {name} is {info['dtype']}; only F32, F16 and BF16 can be converted.")
        start, end = info["data_offsets"]
        out[name] = StoredTensor(file, info["dtype"], tuple(info["shape"]), base + start, base + end)
    return out


def load_f32(t: StoredTensor) -> np.ndarray:
    """The tensor as float32 (bfloat16 widened exactly: its bits are the top half of a float32)."""
    raw = np.memmap(t.file, dtype=np.uint8, mode="r", offset=t.start, shape=(t.end - t.start,))
    data = np.frombuffer(raw, dtype=_DTYPES[t.dtype]).reshape(t.shape)
    if t.dtype == "BF16":
        return (data.astype(np.uint32) << 16).view(np.float32)
    return data.astype(np.float32)
