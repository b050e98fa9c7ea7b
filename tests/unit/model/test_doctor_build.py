"""gemma-lsp doctor reads how llama.cpp's CUDA backend was compiled from its system info."""

from lsp_server.cli.doctor import cuda_build, system_info_features

CPU = "CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | OPENMP = 1 | REPACK = 1 | "
CUDA_DEFAULT = "CUDA : ARCHS = 900 | USE_GRAPHS = 1 | PEER_MAX_BATCH_SIZE = 128 | " + CPU
CUDA_CUBLAS = "CUDA : ARCHS = 890,900 | FORCE_CUBLAS = 1 | USE_GRAPHS = 1 | PEER_MAX_BATCH_SIZE = 128 | " + CPU


def test_features_per_backend():
    features = system_info_features(CUDA_CUBLAS)
    assert features["CUDA"] == {"ARCHS": "890,900", "FORCE_CUBLAS": "1", "USE_GRAPHS": "1", "PEER_MAX_BATCH_SIZE": "128"}
    assert features["CPU"]["AVX2"] == "1"


def test_a_cpu_build_has_no_cuda_facts():
    assert cuda_build(CPU) is None


def test_default_cuda_build_uses_mmq_and_gets_the_rebuild_advice():
    build = cuda_build(CUDA_DEFAULT)
    assert build["force_cublas"] is False and build["archs"] == "900"
    assert build["prompt_matmul"].startswith("MMQ")
    assert build["cublas_from"] is None
    assert "gemma-lsp build-cuda" in build["advice"]


def test_forced_cublas_build_is_reported_with_its_cost_for_short_batches():
    build = cuda_build(CUDA_CUBLAS)
    assert build["force_cublas"] is True and build["prompt_matmul"].startswith("cuBLAS (-DGGML_CUDA_FORCE_CUBLAS")
    assert "short question" in build["advice"] and "gemma-lsp build-cuda" in build["advice"]


def test_a_build_cuda_library_reports_its_threshold_and_needs_no_advice():
    build = cuda_build(CUDA_DEFAULT, cublas_from=384)
    assert build["cublas_from"] == 384 and build["prompt_matmul"] == "cuBLAS from 384-token batches, MMQ below (gemma-lsp build-cuda)"
    assert "advice" not in build


def test_a_build_cuda_library_switched_off_by_its_variable_is_the_default_build():
    build = cuda_build(CUDA_DEFAULT, cublas_from=0)
    assert build["prompt_matmul"].startswith("MMQ") and "gemma-lsp build-cuda" in build["advice"]


def test_this_machines_build_reads_without_error():
    cuda_build()  # the real llama_print_system_info(): a dict or None, never an exception
