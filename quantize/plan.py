"""How much GPU memory a Gemma model needs, and the settings that fit a given card.

Pure arithmetic over a ModelShape (and, for a GGUF file, its real tensor sizes):
weights + KV cache (sliding-window layers keep only a window, global layers the whole context,
KV-shared layers nothing) + compute buffers + a fixed reserve for the CUDA runtime.
``recommend`` is what ``gemma-quantize plan`` prints and what the server can use for automatic
GPU settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import gguf

from quantize.errors import UnknownQuantType
from quantize.gguf_meta import read_summary
from quantize.gpu_scratch import cublas_scratch_bytes, sampler_bytes
from quantize.shapes import ModelShape, load_shape, looks_like_file
from quantize.tensors import model_tensors

MiB = 1 << 20
GiB = 1 << 30

# Average bits per weight of llama.cpp's file types (its quantize tool's table for a Llama-3 8B;
# K-quant mixes vary a little per model). Best quality first: the order recommend() tries.
QUANT_BPW: dict[str, float] = {
    "Q8_0": 8.50, "Q6_K": 6.56, "Q5_K_M": 5.69, "Q5_K_S": 5.54, "Q4_K_M": 4.89,
    "Q4_K_S": 4.58, "IQ4_XS": 4.25, "Q3_K_M": 3.91, "IQ3_M": 3.66, "Q2_K": 3.00,
}
FULL_PRECISION_BPW = {"F32": 32.0, "F16": 16.0, "BF16": 16.0}
# Below IQ4_XS answers degrade visibly; recommend() offloads fewer layers rather than go lower.
ALL_ON_GPU_CANDIDATES = ("Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "IQ4_XS")
KV_TYPES = ("f16", "bf16", "f32", "q8_0", "q5_1", "q5_0", "q4_1", "q4_0")
CUDA_RESERVE = 512 * MiB
"""CUDA context, cuBLAS workspace and allocator slack: not in llama.cpp's own accounting."""
SAFETY = 0.95
"""recommend() plans for 95% of the free memory: estimates are estimates."""
CTX_PAD = 256
"""llama.cpp rounds KV cache sizes up to a multiple of 256 cells."""


def kv_bytes_per_element(kv_type: str) -> float:
    try:
        qtype = gguf.GGMLQuantizationType[kv_type.upper()]
    except KeyError:
        raise UnknownQuantType(f"Unknown KV cache type {kv_type!r}; use one of {', '.join(KV_TYPES)}.") from None
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    return size / block


def bits_per_weight(quant: str) -> float:
    bpw = QUANT_BPW.get(quant.upper()) or FULL_PRECISION_BPW.get(quant.upper())
    if bpw is None:
        known = ", ".join([*QUANT_BPW, *FULL_PRECISION_BPW])
        raise UnknownQuantType(f"Unknown quantization type {quant!r}; use one of {known}.")
    return bpw


def pad(n: int, multiple: int = CTX_PAD) -> int:
    return -(-n // multiple) * multiple


def kv_cells(shape: ModelShape, il: int, n_ctx: int, n_ubatch: int = 512, swa_full: bool = False) -> int:
    """KV cache cells of layer il: a sliding-window layer keeps the window plus one ubatch."""
    if not shape.has_own_kv(il):
        return 0
    n_ctx = pad(n_ctx)
    if shape.is_swa(il) and not swa_full and shape.n_swa:
        return min(n_ctx, pad(shape.n_swa + n_ubatch))
    return n_ctx


def kv_layer_bytes(shape: ModelShape, il: int, n_ctx: int, kv_type: str = "f16", *,
                   n_ubatch: int = 512, swa_full: bool = False) -> int:
    """K and V bytes of one layer (V stored even where the model derives it from K)."""
    per_cell = 2 * shape.kv_heads(il) * shape.head_size(il) * kv_bytes_per_element(kv_type)
    return int(kv_cells(shape, il, n_ctx, n_ubatch, swa_full) * per_cell)


def kv_cache_bytes(shape: ModelShape, n_ctx: int, kv_type: str = "f16", *,
                   n_ubatch: int = 512, swa_full: bool = False) -> int:
    return sum(kv_layer_bytes(shape, il, n_ctx, kv_type, n_ubatch=n_ubatch, swa_full=swa_full)
               for il in range(shape.n_layer))


def compute_buffer_bytes(shape: ModelShape, n_ctx: int, n_ubatch: int = 512, flash_attn: bool = True) -> int:
    """llama.cpp's compute buffer for one ubatch: the f32 logits plus two hidden-state rows.

    With flash attention this is exactly what llama.cpp reserved for Gemma 3 270M (CPU, 514.5 MiB)
    and a Gemma-4-31B shape (CUDA, 533.0 MiB). Without it the KQ scores (n_ubatch x n_ctx per
    head) are materialised too.
    """
    scratch = 4 * n_ubatch * (shape.n_vocab + 2 * shape.n_embd)
    if not flash_attn:
        scratch += 4 * n_ubatch * pad(n_ctx) * shape.n_head
    return scratch


def dequant_scratch_bytes(shape: ModelShape, n_ctx: int, kv_type: str, n_ubatch: int = 512) -> int:
    """CUDA flash attention over a quantized KV cache converts the largest layer's K and V to f16
    first (measured on an H100: +0.8 GiB at 128K and +1.9 GiB at 256K for a Gemma-4-31B shape)."""
    if kv_type.lower() in ("f16", "bf16", "f32"):
        return 0
    per_layer = (kv_cells(shape, il, n_ctx, n_ubatch) * shape.kv_heads(il) * shape.head_size(il)
                 for il in range(shape.n_layer))
    return 2 * 2 * max(per_layer, default=0)


INPUT_TENSORS = ("token_embd.weight", "per_layer_token_embd.weight")


@dataclass(frozen=True)
class Weights:
    """Weight bytes as llama.cpp places them: per layer; the output head, on the GPU once all
    layers are (a tied head is a copy of token_embd); input embeddings, always in host memory."""

    per_layer: tuple[int, ...]
    output: int
    input_embd: int
    file_bytes: int
    quant: str


def _split_weights(shape: ModelShape, sizes: dict[str, int], quant: str) -> Weights:
    per_layer = [0] * shape.n_layer
    output = 0
    for name, size in sizes.items():
        if name.startswith("blk."):
            per_layer[int(name.split(".")[1])] += size
        elif name not in INPUT_TENSORS:
            output += size
    if "output.weight" not in sizes:
        output += sizes.get("token_embd.weight", 0)
    input_embd = sum(sizes.get(name, 0) for name in INPUT_TENSORS)
    return Weights(tuple(per_layer), output, input_embd, sum(sizes.values()), quant)


def weights_for_quant(shape: ModelShape, quant: str) -> Weights:
    """Estimated weight bytes of shape quantized to ``quant`` (norms stay F32)."""
    bpw = bits_per_weight(quant)
    sizes = {s.name: int(s.n_elements * (4.0 if s.is_norm else bpw / 8)) for s in model_tensors(shape)}
    return _split_weights(shape, sizes, quant.upper())


def weights_from_tensors(shape: ModelShape, tensors, file_type: str) -> Weights:
    """Exact weight bytes of a GGUF's tensors."""
    return _split_weights(shape, {t.name: t.n_bytes for t in tensors}, file_type)


@dataclass(frozen=True)
class Settings:
    """The llama.cpp settings a plan is made for (llama_cpp.Llama keyword names)."""

    n_gpu_layers: int
    n_ctx: int
    kv_type: str = "f16"
    flash_attn: bool = True
    swa_full: bool = False
    n_ubatch: int = 512
    gpu_sampler: bool = False
    """Top-k in the model's graph (``model.sampler`` auto / gpu-top-k on a GPU)."""
    cublas_from: int = 0
    """Prompt batches of this many tokens use cuBLAS: 384 for `gemma-lsp build-cuda`, 1 for a
    -DGGML_CUDA_FORCE_CUBLAS=ON build, 0 for llama.cpp's default build (MMQ only)."""


@dataclass(frozen=True)
class MemoryEstimate:
    weights_gpu: int
    weights_host: int
    kv_gpu: int
    kv_host: int
    compute_gpu: int
    reserve_gpu: int

    @property
    def total_gpu(self) -> int:
        return self.weights_gpu + self.kv_gpu + self.compute_gpu + self.reserve_gpu


def gpu_layer_ids(n_layer: int, n_gpu_layers: int) -> range:
    """llama.cpp offloads the last n_gpu_layers repeating layers."""
    return range(max(0, n_layer - min(n_gpu_layers, n_layer)), n_layer)


def estimate(shape: ModelShape, weights: Weights, s: Settings) -> MemoryEstimate:
    on_gpu = set(gpu_layer_ids(shape.n_layer, s.n_gpu_layers))
    kv = [kv_layer_bytes(shape, il, s.n_ctx, s.kv_type, n_ubatch=s.n_ubatch, swa_full=s.swa_full)
          for il in range(shape.n_layer)]
    output_gpu = weights.output if s.n_gpu_layers > shape.n_layer else 0
    weights_gpu = sum(weights.per_layer[il] for il in on_gpu) + output_gpu
    uses_gpu = s.n_gpu_layers > 0
    return MemoryEstimate(
        weights_gpu=weights_gpu,
        weights_host=weights.file_bytes - weights_gpu,
        kv_gpu=sum(kv[il] for il in on_gpu),
        kv_host=sum(kv) - sum(kv[il] for il in on_gpu),
        compute_gpu=_gpu_scratch(shape, s) if uses_gpu else 0,
        reserve_gpu=CUDA_RESERVE if uses_gpu else 0,
    )


def _gpu_scratch(shape: ModelShape, s: Settings) -> int:
    scratch = compute_buffer_bytes(shape, s.n_ctx, s.n_ubatch, s.flash_attn)
    if s.flash_attn:
        scratch += dequant_scratch_bytes(shape, s.n_ctx, s.kv_type, s.n_ubatch)
    if s.gpu_sampler:
        scratch += sampler_bytes(shape, s.n_ubatch)
    if 0 < s.cublas_from <= s.n_ubatch:
        scratch += cublas_scratch_bytes(shape, s.n_ubatch)
    return scratch


def fits(shape: ModelShape, weights: Weights, s: Settings, free_bytes: int) -> bool:
    return estimate(shape, weights, s).total_gpu <= free_bytes


def max_gpu_layers(shape: ModelShape, weights: Weights, s: Settings, free_bytes: int) -> int:
    """The most layers (n_layer + 1 = all, output head included) that fit in free_bytes."""
    for n in range(shape.n_layer + 1, 0, -1):
        if fits(shape, weights, replace_settings(s, n_gpu_layers=n), free_bytes):
            return n
    return 0


def max_context(shape: ModelShape, weights: Weights, s: Settings, free_bytes: int, step: int = 1024) -> int:
    """The longest context (a multiple of step, at most n_ctx_train) that fits; 0 if none does."""
    lo, hi = 0, shape.n_ctx_train // step
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(shape, weights, replace_settings(s, n_ctx=mid * step), free_bytes):
            lo = mid
        else:
            hi = mid - 1
    return lo * step


def replace_settings(s: Settings, **changes) -> Settings:
    values = {**s.__dict__, **changes}
    return Settings(**values)


DEFAULT_CTX = 32768
UBATCH_CHOICES = (2048, 1024, 512)
"""n_ubatch values recommend() tries, fastest first. Prompt processing on an H100 with llama.cpp
built with -DGGML_CUDA_FORCE_CUBLAS=ON (31B shape, Q4_K_M): n_ubatch 2048 is 1.5-1.9x faster than
512 (tests/benchmarks/RESULTS.md); the price is the compute buffer, which grows with n_ubatch
(the f32 logits of a whole ubatch: 2 GiB at 2048 for a 262,144-token vocabulary)."""


@dataclass(frozen=True)
class Recommendation:
    model: str
    shape: ModelShape
    quant: str
    """Best quantization for this card (for a GGUF file: what to make from its F16 source)."""
    file_type: str | None
    """The GGUF file's own type; None for a named shape."""
    settings: Settings
    estimate: MemoryEstimate
    max_ctx: int
    """Longest context that fits with every layer on the GPU (0: not all layers fit)."""
    free_bytes: int
    notes: list[str] = field(default_factory=list)

    def llama_kwargs(self) -> dict:
        """Keyword arguments for llama_cpp.Llama (type_k/type_v as GGML type numbers)."""
        kv = int(gguf.GGMLQuantizationType[self.settings.kv_type.upper()])
        return {"n_gpu_layers": self.settings.n_gpu_layers, "n_ctx": self.settings.n_ctx,
                "flash_attn": self.settings.flash_attn, "swa_full": self.settings.swa_full,
                "n_ubatch": self.settings.n_ubatch, "type_k": kv, "type_v": kv}


def recommend(model: str | Path | ModelShape, free_vram_bytes: int, *, ctx: int | None = None,
              kv_type: str | None = None, flash_attn: bool = True, n_ubatch: int | None = None,
              cublas_from: int = 0) -> Recommendation:
    """Quant type, n_gpu_layers, context size, KV type, n_ubatch and sampler for a model on a card
    with free_vram_bytes free (0 for CPU only). model: a .gguf path, a shape name or a ModelShape.
    cublas_from: the llama.cpp build's (Settings.cublas_from; 0, llama.cpp's default build).

    Memory goes first to quality and layers (quant and KV type are chosen with the smallest
    n_ubatch), then to the context asked for (ctx, else DEFAULT_CTX), then to top-k in the graph
    (faster decode) with the largest n_ubatch of UBATCH_CHOICES that still fits (faster prefill),
    and what is left to a longer context. n_ubatch given: that value, as before."""
    auto_ubatch = n_ubatch is None
    n_ubatch = UBATCH_CHOICES[-1] if auto_ubatch else n_ubatch
    shape, file_weights, file_type, label = _load_model(model)
    usable = int(max(0, free_vram_bytes) * SAFETY)
    want_ctx = min(ctx or DEFAULT_CTX, shape.n_ctx_train)
    kv_choices = [kv_type.lower()] if kv_type else (["f16", "q8_0"] if flash_attn else ["f16"])
    for kv in kv_choices:
        kv_bytes_per_element(kv)
    base = Settings(shape.n_layer + 1, want_ctx, kv_choices[0], flash_attn, False, n_ubatch, cublas_from=cublas_from)
    quant, kv = _best_quant(shape, base, kv_choices, usable)
    weights = file_weights or weights_for_quant(shape, quant)
    if file_weights is not None:
        kv = _first_fitting_kv(shape, weights, base, kv_choices, usable) or kv_choices[-1]
    if usable == 0:
        kv = kv_choices[0]
    settings = replace_settings(base, kv_type=kv)
    ngl = max_gpu_layers(shape, weights, settings, usable)
    all_in = ngl == shape.n_layer + 1
    if all_in:
        ubatches = UBATCH_CHOICES if auto_ubatch else (n_ubatch,)
        settings = _fastest_that_fits(shape, weights, settings, ctx or want_ctx, usable, ubatches)
    longest = max_context(shape, weights, settings, usable) if all_in else 0
    settings = replace_settings(settings, n_gpu_layers=ngl, n_ctx=ctx or max(want_ctx, longest))
    rec = Recommendation(label, shape, quant, file_type, settings, estimate(shape, weights, settings),
                         longest, free_vram_bytes)
    rec.notes.extend(_notes(rec, all_in))
    return rec


def _fastest_that_fits(shape: ModelShape, weights: Weights, s: Settings, n_ctx: int, free: int,
                       ubatches: tuple[int, ...]) -> Settings:
    """Top-k in the graph if it fits (decode: 0.96-0.98x llama.cpp's own speed on the 31B shape
    against 0.88x without), with the largest micro-batch that fits alongside."""
    for gpu_sampler in (True, False):
        for n_ubatch in ubatches:
            if fits(shape, weights, replace_settings(s, n_ctx=n_ctx, n_ubatch=n_ubatch, gpu_sampler=gpu_sampler), free):
                return replace_settings(s, n_ubatch=n_ubatch, gpu_sampler=gpu_sampler)
    return replace_settings(s, n_ubatch=ubatches[-1])


def _load_model(model: str | Path | ModelShape):
    if isinstance(model, ModelShape):
        return model, None, None, model.name
    if looks_like_file(str(model)):
        summary = read_summary(Path(model))
        weights = weights_from_tensors(summary.shape, summary.tensors, summary.file_type)
        return summary.shape, weights, summary.file_type, str(model)
    return load_shape(str(model)), None, None, str(model)


def _best_quant(shape: ModelShape, base: Settings, kv_choices: list[str], free: int) -> tuple[str, str]:
    for quant in ALL_ON_GPU_CANDIDATES:
        kv = _first_fitting_kv(shape, weights_for_quant(shape, quant), base, kv_choices, free)
        if kv:
            return quant, kv
    return "Q4_K_M", kv_choices[-1]


def _first_fitting_kv(shape: ModelShape, weights: Weights, base: Settings, kv_choices: list[str],
                      free: int) -> str | None:
    for kv in kv_choices:
        if fits(shape, weights, replace_settings(base, kv_type=kv), free):
            return kv
    return None


def _notes(rec: Recommendation, all_in: bool) -> list[str]:
    notes = []
    if rec.free_bytes <= 0:
        notes.append("No GPU memory given: everything runs on the CPU (n_gpu_layers=0).")
    elif not all_in:
        notes.append(f"Not every layer fits: {rec.settings.n_gpu_layers} of {rec.shape.n_layer + 1} on the GPU, "
                     "the rest on the CPU (slower). A smaller quant or context, or a quantized KV cache, helps.")
    if rec.settings.kv_type not in ("f16", "bf16", "f32"):
        notes.append("A quantized KV cache needs flash attention (flash_attn=True).")
    if rec.shape.n_swa:
        notes.append("swa_full=False: sliding-window layers keep only their window in the KV cache.")
    if rec.free_bytes > 0:
        notes.append(f"n_ubatch={rec.settings.n_ubatch}: set model.n_ubatch = {rec.settings.n_ubatch} in the server's "
                     "settings (its default is 512). Larger micro-batches prefill faster on a GPU, most with "
                     "cuBLAS for long batches (gemma-lsp build-cuda); their compute buffer is counted above.")
    if all_in and rec.free_bytes > 0:
        s = rec.settings
        notes.append("Top-k runs in the model's graph (model.sampler = \"auto\", the default); its buffers are counted above."
                     if s.gpu_sampler else
                     'Set model.sampler = "fast": top-k in the graph (the default on a GPU) would need '
                     f"{sampler_bytes(rec.shape, s.n_ubatch) / GiB:.2f} GiB more than fits.")
        cublas = (f"cuBLAS from {s.cublas_from}-token batches" if s.cublas_from > 1 else
                  "cuBLAS for every batch" if s.cublas_from == 1 else "llama.cpp's default build (MMQ)")
        notes.append(f"Planned for {cublas} (--cublas-from {s.cublas_from}; by default, the build installed here).")
    return notes


@dataclass(frozen=True)
class QuantRow:
    quant: str
    weights_bytes: int
    max_ctx_f16: int
    max_ctx_q8_0: int


def quant_table(shape: ModelShape, free_vram_bytes: int, *, flash_attn: bool = True,
                n_ubatch: int = 512) -> list[QuantRow]:
    """For each quant: its size and the longest context that fits with every layer on the GPU."""
    usable = int(max(0, free_vram_bytes) * SAFETY)
    rows = []
    for quant in QUANT_BPW:
        weights = weights_for_quant(shape, quant)
        base = Settings(shape.n_layer + 1, 1024, "f16", flash_attn, False, n_ubatch)
        longest = [max_context(shape, weights, replace_settings(base, kv_type=kv), usable) for kv in ("f16", "q8_0")]
        rows.append(QuantRow(quant, weights.file_bytes, *longest))
    return rows
