"""gemma-lsp build-cuda: the patch to llama.cpp's choice between MMQ and cuBLAS, and the source it
patches. The CUDA compile itself runs on the GPU machine (tests/benchmarks/RESULTS.md)."""

import io
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from lsp_server.cli import build_parser
from lsp_server.cli.build_cuda import ENV, MMQ_SOURCE, SYMBOL, install_command, patch_mmq, unpack_and_patch
from lsp_server.errors import GemmaLspError

# The function as llama-cpp-python 0.3.36 vendors it, cut after the part the patch touches.
MMQ = """#include "mmq.cuh"

bool ggml_cuda_should_use_mmq(enum ggml_type type, int cc, int64_t ne11, int64_t n_experts) {
#ifdef GGML_CUDA_FORCE_CUBLAS
    return false;
#endif // GGML_CUDA_FORCE_CUBLAS

    bool mmq_supported;
    return true;
}
"""


def test_patch_sends_batches_from_the_threshold_to_cublas():
    patched = patch_mmq(MMQ, 384)
    body = patched[patched.index("bool ggml_cuda_should_use_mmq("):]
    # the switch comes first in the function, after the compile-time flag, before any other rule
    assert body.index("#endif // GGML_CUDA_FORCE_CUBLAS") < body.index(f"ne11 >= {SYMBOL}()") < body.index("bool mmq_supported")
    assert f'std::getenv("{ENV}")' in patched and "std::atoll(value) : 384LL" in patched
    assert 'extern "C" __attribute__((visibility("default"))) long long gemma_lsp_cublas_from(void)' in patched


def test_patch_compiles_and_chooses_as_documented(tmp_path):
    """The patched function, compiled with a C++ compiler and called: MMQ below the threshold,
    cuBLAS from it; the environment variable replaces the default (0: never cuBLAS)."""
    if not any(Path(d, "g++").exists() for d in ("/usr/bin", "/usr/local/bin")):
        pytest.skip("no C++ compiler here")
    source = patch_mmq(MMQ.replace('#include "mmq.cuh"', "#include <cstdint>\n#include <cstdio>\nenum ggml_type { Q4_K };"))
    source += 'int main() { printf("%d %d %lld\\n", ggml_cuda_should_use_mmq(Q4_K, 900, 25, 0), ggml_cuda_should_use_mmq(Q4_K, 900, 2048, 0), gemma_lsp_cublas_from()); }\n'
    (tmp_path / "mmq.cpp").write_text(source)
    subprocess.run(["g++", "-o", str(tmp_path / "mmq"), str(tmp_path / "mmq.cpp")], check=True)

    def run(env: dict) -> list[str]:
        return subprocess.run([str(tmp_path / "mmq")], env=env, capture_output=True, text=True, check=True).stdout.split()

    assert run({}) == ["1", "0", "384"]  # the default: 384
    assert run({ENV: "4096"}) == ["1", "1", "4096"]
    assert run({ENV: "0"}) == ["1", "1", "0"]


def test_a_changed_or_patched_source_is_refused_with_what_to_do():
    with pytest.raises(GemmaLspError, match="GGML_CUDA_FORCE_CUBLAS=ON"):
        patch_mmq(MMQ.replace("#endif // GGML_CUDA_FORCE_CUBLAS\n", ""))
    with pytest.raises(GemmaLspError, match="patched already"):
        patch_mmq(patch_mmq(MMQ))


def _sdist(path: Path, files: dict[str, str]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def test_the_sdist_is_unpacked_and_its_mmq_patched(tmp_path):
    sdist = _sdist(tmp_path / "llama_cpp_python-0.3.36.tar.gz", {f"llama_cpp_python-0.3.36/{MMQ_SOURCE}": MMQ})
    tree = unpack_and_patch(sdist, tmp_path / "src", 512)
    assert tree.name == "llama_cpp_python-0.3.36"
    assert "std::atoll(value) : 512LL" in (tree / MMQ_SOURCE).read_text()


def test_an_archive_without_llama_cpp_is_refused(tmp_path):
    sdist = _sdist(tmp_path / "other.tar.gz", {"other-1.0/setup.py": ""})
    with pytest.raises(GemmaLspError, match="not a llama-cpp-python source archive"):
        unpack_and_patch(sdist, tmp_path / "src", 256)


def test_a_missing_or_unreadable_archive_says_what_to_pass(tmp_path):
    (tmp_path / "notes.txt").write_text("not an archive")
    for path in (tmp_path / "missing.tar.gz", tmp_path / "notes.txt"):
        with pytest.raises(GemmaLspError, match="sdist"):
            unpack_and_patch(path, tmp_path / "src", 384)


def test_install_command_and_cli_options(tmp_path):
    assert install_command(tmp_path, isolated=False)[:4] == [sys.executable, "-m", "pip", "install"]
    assert "--no-build-isolation" in install_command(tmp_path, isolated=False)
    assert "--no-build-isolation" not in install_command(tmp_path, isolated=True)
    args = build_parser().parse_args(["build-cuda", "--cublas-from", "512", "--sdist", "x.tar.gz", "--no-build-isolation"])
    assert (args.cublas_from, args.sdist, args.no_build_isolation) == (512, Path("x.tar.gz"), True)
