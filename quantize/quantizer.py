"""`gemma-quantize quantize`: llama.cpp's own quantizer (llama_model_quantize) on a GGUF file,
with an optional importance matrix, progress from llama.cpp's log, and the return code checked.
The result is written next to the output and renamed into place only when it is complete."""

from __future__ import annotations

import ctypes
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from quantize.errors import BadInput, QuantizeFailed, UnknownQuantType
from lsp_server.model.gguf_header import read_header
from quantize.gguf_meta import ftype_name, shape_from_header
from quantize.gguf_write import Progress, check_output
from quantize.plan import bits_per_weight

# llama.cpp's file types (LLAMA_FTYPE_MOSTLY_*) that make sense for Gemma; left out: the ternary
# TQ1_0/TQ2_0 (for ternary-trained models only) and the newest Q1_0, Q2_0 and NVFP4.
QUANT_TYPES = ("Q8_0", "Q6_K", "Q5_K_M", "Q5_K_S", "Q4_K_M", "Q4_K_S", "IQ4_XS", "IQ4_NL", "Q5_1", "Q5_0",
               "Q4_1", "Q4_0", "MXFP4_MOE", "Q3_K_L", "Q3_K_M", "Q3_K_S", "IQ3_M", "IQ3_S", "IQ3_XS", "IQ3_XXS",
               "Q2_K", "Q2_K_S", "IQ2_M", "IQ2_S", "IQ2_XS", "IQ2_XXS", "IQ1_M", "IQ1_S", "F16", "BF16")
# The types llama.cpp (as bundled with llama-cpp-python 0.3.36) refuses to make without an
# importance matrix ("this quantization requires an imatrix!"), tried one by one.
NEEDS_IMATRIX = ("IQ3_XS", "IQ3_XXS", "IQ2_M", "IQ2_XXS", "IQ2_XS", "IQ2_S", "Q2_K_S", "IQ1_S", "IQ1_M")
SOURCE_TYPES = ("F32", "F16", "BF16")
_PROGRESS = re.compile(r"\[\s*(\d+)/\s*(\d+)\]\s+(\S+)")


@dataclass(frozen=True)
class QuantizeResult:
    output: Path
    quant: str
    input_bytes: int
    output_bytes: int
    imatrix_entries: int


def ftype_of(quant: str) -> int:
    import llama_cpp

    name = quant.upper()
    value = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{name}", None)
    if name not in QUANT_TYPES or value is None:
        raise UnknownQuantType(f"Unknown quantization type {quant!r}; use one of {', '.join(QUANT_TYPES)}.")
    return int(value)


def quantize_gguf(src: Path, dst: Path, quant: str = "Q4_K_M", *, imatrix: Path | None = None,
                  force: bool = False, allow_requantize: bool = False, threads: int = 0,
                  progress: Progress | None = None) -> QuantizeResult:
    ftype = ftype_of(quant)
    header = read_header(src)
    shape_from_header(header, src.name)  # refuses architectures other than Gemma 3 / 4
    source_type = ftype_name(header.get("general.file_type"))
    _check_source(quant, source_type, allow_requantize, imatrix)
    n_params = sum(int(np.prod(t.dims)) for t in header.tensors)
    check_output(dst, force, int(n_params * _bpw(quant) / 8) + (64 << 20))
    entries = load_imatrix(imatrix) if imatrix else {}
    partial = dst.with_name(dst.name + ".partial")
    try:
        rc = _run_quantize(src, partial, ftype, entries, threads, allow_requantize, progress)
        if rc != 0 or not partial.is_file():
            raise QuantizeFailed(f"llama.cpp could not quantize {src} to {quant} (return code {rc}). "
                                 "Run with --verbose to see llama.cpp's log.")
        os.replace(partial, dst)
    finally:
        partial.unlink(missing_ok=True)
    return QuantizeResult(dst, quant.upper(), src.stat().st_size, dst.stat().st_size, len(entries))


def _bpw(quant: str) -> float:
    try:
        return bits_per_weight(quant)
    except UnknownQuantType:
        return 8.5


def _check_source(quant: str, source_type: str, allow_requantize: bool, imatrix: Path | None) -> None:
    if source_type not in SOURCE_TYPES and source_type != "unknown" and not allow_requantize:
        raise BadInput(f"The input is already {source_type}: quantizing it again loses more quality than "
                       "quantizing its F16/BF16 source. Use the source, or pass --allow-requantize.")
    if quant.upper() in NEEDS_IMATRIX and imatrix is None:
        raise BadInput(f"{quant} needs an importance matrix: make one with llama.cpp's llama-imatrix "
                       "on some of your code and pass --imatrix FILE.")


def _run_quantize(src: Path, dst: Path, ftype: int, entries: dict[str, np.ndarray], threads: int,
                  allow_requantize: bool, progress: Progress | None) -> int:
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.nthread = threads
    params.allow_requantize = allow_requantize
    keep = _imatrix_array(entries)
    if keep is not None:
        params.imatrix = ctypes.cast(keep[0], ctypes.POINTER(llama_cpp.llama_model_imatrix_data))
    with _LogProgress(progress):
        return int(llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), ctypes.byref(params)))


def _imatrix_array(entries: dict[str, np.ndarray]):
    """A null-terminated llama_model_imatrix_data array; returned with what keeps it alive."""
    import llama_cpp

    if not entries:
        return None
    array = (llama_cpp.llama_model_imatrix_data * (len(entries) + 1))()
    names = [name.encode() for name in entries]
    values = [np.ascontiguousarray(v, dtype=np.float32) for v in entries.values()]
    for slot, name, data in zip(array, names, values):
        slot.name = name
        slot.data = data.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
        slot.size = data.size
    return array, names, values


def load_imatrix(path: Path) -> dict[str, np.ndarray]:
    """Importance per weight column from a GGUF imatrix file (llama-imatrix's default output):
    each tensor's `<name>.in_sum2` divided by its `<name>.counts`."""
    header = read_header(path)
    tensors = {t.name: t for t in header.tensors}
    sums = [n for n in tensors if n.endswith(".in_sum2")]
    if not sums:
        raise BadInput(f"{path} holds no '<tensor>.in_sum2' entries: give a GGUF imatrix from llama-imatrix.")
    data = np.memmap(path, dtype=np.uint8, mode="r")
    out = {}
    for name in sums:
        base = name.removesuffix(".in_sum2")
        counts_info = tensors.get(base + ".counts")
        if counts_info is None:
            raise BadInput(f"{path}: {base}.in_sum2 has no {base}.counts.")
        s, c = _f32(data, tensors[name]), _f32(data, counts_info)
        rows = s.reshape(len(c), -1)
        out[base] = (rows / np.maximum(c, 1)[:, None]).ravel()
    return out


def _f32(data: np.memmap, info) -> np.ndarray:
    count = int(np.prod(info.dims))
    return np.frombuffer(data, dtype=np.float32, count=count, offset=info.offset).copy()


class _LogProgress:
    """Routes llama.cpp's log through a parser of its "[ 12/ 236] name" lines while quantizing."""

    def __init__(self, progress: Progress | None) -> None:
        import llama_cpp

        self.progress = progress
        self.callback = llama_cpp.llama_log_callback(self._on_log)

    def _on_log(self, level, text, user_data) -> None:
        match = _PROGRESS.search(text.decode("utf-8", errors="replace")) if text else None
        if match and self.progress:
            self.progress(int(match.group(1)), int(match.group(2)), match.group(3))

    def __enter__(self):
        import llama_cpp

        llama_cpp.llama_log_set(self.callback, ctypes.c_void_p(0))
        return self

    def __exit__(self, *exc) -> None:
        import llama_cpp
        from llama_cpp import _logger

        llama_cpp.llama_log_set(_logger.llama_log_callback, ctypes.c_void_p(0))
