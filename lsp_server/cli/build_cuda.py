"""``gemma-lsp build-cuda``: llama-cpp-python with CUDA, cuBLAS for long prompt batches only.

llama.cpp's CUDA build multiplies quantized weights by a prompt batch with its own int8 kernels
(MMQ); ``-DGGML_CUDA_FORCE_CUBLAS=ON`` hands every batch of more than 8 tokens to cuBLAS instead.
On an H100 (Gemma-4-31B shape, Q4_K_M; tests/benchmarks/RESULTS.md, issue 22) cuBLAS prefilled
8K tokens twice as fast at n_ubatch 2048, but MMQ was faster for batches up to 256 tokens: the
25 new tokens of a question after a warm 8K / 128K prefix took 121 / 153 ms to the first answer
token with cuBLAS against 47 / 76 ms with MMQ. Neither build is best at both, so this one patches the single
function where llama.cpp chooses (``ggml_cuda_should_use_mmq`` in ggml-cuda/mmq.cu): batches of
``cublas_from`` tokens or more go to cuBLAS, smaller ones keep MMQ. The environment variable
GEMMA_LSP_CUBLAS_FROM changes the threshold when the server starts (0: never cuBLAS, which is
llama.cpp's default build; 1: always, which is the flag's build).

The source is llama-cpp-python's own sdist, of the installed version, fetched by pip (an install
step, like the README's pip command) or given with ``--sdist``.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from lsp_server.errors import GemmaLspError

CUBLAS_FROM = 384
"""Tokens per batch from which cuBLAS multiplies. H100, 31B shape, 8K prefill by batch size: MMQ
2,223 vs cuBLAS 2,063 tok/s at 256; cuBLAS 2,565 vs 2,428 at 384, 3,190 vs 2,562 at 512."""
ENV = "GEMMA_LSP_CUBLAS_FROM"
SYMBOL = "gemma_lsp_cublas_from"
"""Exported by the patched libggml-cuda: ``gemma-lsp doctor`` reads the threshold from it."""
MMQ_SOURCE = Path("vendor/llama.cpp/ggml/src/ggml-cuda/mmq.cu")
_MARK = "#endif // GGML_CUDA_FORCE_CUBLAS\n"


def patch_mmq(source: str, cublas_from: int = CUBLAS_FROM) -> str:
    """mmq.cu's text with the threshold in ``ggml_cuda_should_use_mmq`` and the exported reader."""
    if source.count(_MARK) != 1 or "bool ggml_cuda_should_use_mmq(" not in source:
        raise GemmaLspError("This llama-cpp-python's mmq.cu no longer has the place gemma-lsp patches. "
                            'Build it as the README says instead: CMAKE_ARGS="-DGGML_CUDA=on -DGGML_CUDA_FORCE_CUBLAS=ON".')
    if SYMBOL in source:
        raise GemmaLspError("mmq.cu is patched already: start from a fresh copy of the source.")
    reader = (
        "#include <cstdlib>\n"
        f"// gemma-lsp: prompt batches of {ENV} tokens or more (default {cublas_from}) use cuBLAS\n"
        f'extern "C" __attribute__((visibility("default"))) long long {SYMBOL}(void) {{\n'
        f'    static const char * value = std::getenv("{ENV}");\n'
        f"    static const long long from = value ? std::atoll(value) : {int(cublas_from)}LL;\n"
        "    return from;\n"
        "}\n"
    )
    switch = f"    if ({SYMBOL}() > 0 && ne11 >= {SYMBOL}()) {{ return false; }}\n"
    return reader + source.replace(_MARK, _MARK + switch)


def unpack_and_patch(sdist: Path, folder: Path, cublas_from: int) -> Path:
    """Unpack the sdist into folder and patch it; returns the source tree."""
    try:
        with tarfile.open(sdist) as archive:
            try:
                archive.extractall(folder, filter="data")  # refuses links and paths out of the folder
            except TypeError:  # a Python without extraction filters (3.10 before 3.10.12)
                archive.extractall(folder)
    except (OSError, tarfile.TarError) as exc:
        raise GemmaLspError(f"Cannot read {sdist} as a source archive ({exc}); pass llama-cpp-python's .tar.gz sdist.") from None
    trees = [p for p in folder.iterdir() if (p / MMQ_SOURCE).is_file()]
    if len(trees) != 1:
        raise GemmaLspError(f"{sdist} is not a llama-cpp-python source archive (no {MMQ_SOURCE} in it).")
    mmq = trees[0] / MMQ_SOURCE
    mmq.write_text(patch_mmq(mmq.read_text(), cublas_from))
    return trees[0]


def installed_version() -> str:
    try:
        return importlib.metadata.version("llama-cpp-python")
    except importlib.metadata.PackageNotFoundError:
        raise GemmaLspError("llama-cpp-python is not installed: pip install 'gemma-lsp[model]' first.") from None


def download_sdist(version: str, folder: Path) -> Path:
    command = [sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps", "-d", str(folder),
               f"llama-cpp-python=={version}"]
    if subprocess.run(command, check=False).returncode != 0:
        raise GemmaLspError(f"pip could not fetch llama-cpp-python {version}'s source; pass --sdist FILE.tar.gz.")
    found = sorted(folder.glob("llama_cpp_python-*.tar.gz"))
    if not found:
        raise GemmaLspError(f"pip fetched no source archive of llama-cpp-python {version}.")
    return found[0]


def install_command(tree: Path, isolated: bool) -> list[str]:
    command = [sys.executable, "-m", "pip", "install", "--force-reinstall", "--no-deps", "--no-cache-dir"]
    return command + ([] if isolated else ["--no-build-isolation"]) + [str(tree)]


def build_cuda(sdist: Path | None, cublas_from: int, cmake_args: str, isolated: bool) -> int:
    if shutil.which("nvcc") is None and not os.environ.get("CUDACXX"):
        raise GemmaLspError("No CUDA compiler (nvcc) on PATH: install the CUDA toolkit, or set CUDACXX.")
    with tempfile.TemporaryDirectory(prefix="gemma-lsp-cuda-") as temp:
        folder = Path(temp)
        archive = sdist or download_sdist(installed_version(), folder / "download")
        tree = unpack_and_patch(archive, folder / "src", cublas_from)
        env = {**os.environ, "CMAKE_ARGS": f"-DGGML_CUDA=on {cmake_args}".strip()}
        print(f"Building {tree.name} with CUDA (CMAKE_ARGS={env['CMAKE_ARGS']}); cuBLAS from {cublas_from}-token batches. "
              "This takes several minutes.", flush=True)
        if subprocess.run(install_command(tree, isolated), env=env, check=False).returncode != 0:
            raise GemmaLspError("The CUDA build failed (its output is above). The plain recipe in the README still works.")
    print(f"Done. `gemma-lsp doctor --json` should now show \"cuda_build\": {{\"cublas_from\": {cublas_from}, ...}}.")
    return 0
