#!/usr/bin/env bash
# The GPU measurements of tests/benchmarks/RESULTS.md, in stages that each fit one device call.
# On the GPU machine, from the repository root with .device/ (../shared/gpu/prepare.sh) alongside:
#   bash tests/benchmarks/gpu_run.sh build            # llama-cpp-python with CUDA + llama-bench
#   bash tests/benchmarks/gpu_run.sh synth SHAPE...   # random-weight Q4_K_M GGUFs of real shapes
#   bash tests/benchmarks/gpu_run.sh bench SHAPE ARGS # ours vs llama-bench (tests/benchmarks/gpu_bench.py ARGS)
#   bash tests/benchmarks/gpu_run.sh server MODEL     # Explain / Generate tests through the server,
#                                                     # in several configurations, each in a fresh cache
# Results go to $OUT (the device tool's output folder) or ./gpu-results.
#   bash tests/benchmarks/gpu_run.sh native SHAPE LABEL ARGS  # llama-bench alone (-ngl 99 -fa 1 -r 1 ARGS)
# The build is the one `gemma-lsp build-cuda` makes (lsp_server/cli/build_cuda.py): llama.cpp's default
# CUDA build with its choice between MMQ and cuBLAS patched, so that prompt batches of
# GEMMA_LSP_CUBLAS_FROM tokens or more (default 384) use cuBLAS. The variable switches builds at run
# time, so one compile measures all three: 0 = llama.cpp's default build, 1 = -DGGML_CUDA_FORCE_CUBLAS=ON,
# 384 = ours. GEMMA_CUDA_PLAIN=1 builds the unpatched source; GEMMA_CUDA_CMAKE_ARGS adds CMake arguments.
set -uo pipefail
out=${OUT:-gpu-results}
mkdir -p "$out" /tmp/models
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
stage=$1; shift

llama_bench() {
  find /tmp/lcp-build -name llama-bench -type f -perm -u+x 2>/dev/null | head -1
}

# One CUDA compile for both: the llama-cpp-python wheel, and llama.cpp's own tools (llama-bench)
# from the same vendored source, kept in /tmp/lcp-build.
build() {
  if python3 -c "import llama_cpp; assert llama_cpp.llama_supports_gpu_offload()" 2>/dev/null && [ -n "$(llama_bench)" ]; then
    echo "already built"; return 0
  fi
  local work src cap start
  work=$(mktemp -d)
  if [ -n "${GEMMA_CUDA_PLAIN:-}" ]; then
    tar xzf .device/llama-cpp-python-src.tar.gz -C "$work"; src=$(ls -d "$work"/llama_cpp_python-*/)
  else  # the source as `gemma-lsp build-cuda` patches it (lsp_server/cli/build_cuda.py)
    src=$(python3 -c "import sys; from pathlib import Path; from lsp_server.cli.build_cuda import CUBLAS_FROM, unpack_and_patch; print(unpack_and_patch(Path(sys.argv[1]), Path(sys.argv[2]), CUBLAS_FROM))" \
          .device/llama-cpp-python-src.tar.gz "$work") || return 1
    echo "patched as gemma-lsp build-cuda does: GEMMA_LSP_CUBLAS_FROM=N at run time (default 384; 0: llama.cpp's default build; 1: the FORCE_CUBLAS build)"
  fi
  cap=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d '.')
  export CMAKE_ARGS="-DGGML_CUDA=on -DCMAKE_CUDA_ARCHITECTURES=$cap -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=OFF -DLLAVA_BUILD=OFF ${GEMMA_CUDA_CMAKE_ARGS:-}"
  echo "CMAKE_ARGS=$CMAKE_ARGS"
  export CMAKE_BUILD_PARALLEL_LEVEL=$(nproc)
  start=$(date +%s)
  python3 -m pip wheel -q --no-build-isolation --no-deps -C build-dir=/tmp/lcp-build -w "$work/whl" "$src" > "$work/build.log" 2>&1 || { tail -40 "$work/build.log"; return 1; }
  echo "CUDA build with tools: $(( $(date +%s) - start )) s"
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site "$work"/whl/*.whl .device/whl/*.whl || return 1
  echo "llama-bench: $(llama_bench)"
}

case "$stage" in
  build)
    build || exit 1
    ;;
  synth)
    for shape in "$@"; do
      [ -f "/tmp/models/$shape.gguf" ] || python3 -c "import sys; from quantize.cli import main; sys.exit(main())" synth "$shape" "/tmp/models/$shape.gguf" --type Q4_K_M --tokenizer-from .xfer/vocab_head.gguf --json > "$out/synth-$shape.json"
    done
    ls -la /tmp/models
    ;;
  native)
    shape=$1; label=$2; shift 2
    echo "== llama-bench $label (GEMMA_LSP_CUBLAS_FROM=${GEMMA_LSP_CUBLAS_FROM:-unset}): $*"
    "$(llama_bench)" -m "/tmp/models/$shape.gguf" -ngl 99 -fa 1 -r 1 "$@" -o md 2>&1 | tee -a "$out/native-$label.md"
    ;;
  bench)
    shape=$1; shift
    python3 tests/benchmarks/gpu_bench.py "/tmp/models/$shape.gguf" --llama-bench "$(llama_bench)" --out "$out/bench-$shape.json" "$@"
    ;;
  server)
    # Each variant in its own cache dir (KV state files are kept there), then the first again in
    # the same dir (a restart that restores the saved state). The server's log comes back in $OUT.
    model=$1; shift
    n=0
    for variant in "" "warm_up=false" "swa_checkpoints=0" "keep_kv_state=false" "n_gpu_layers=0" "@1"; do
      n=$((n + 1))
      if [ "$variant" = "@1" ]; then cache=/tmp/cache-1; variant=""; else cache=/tmp/cache-$n; fi
      sets=(); for kv in $variant; do sets+=(--set "$kv"); done
      echo "== run $n: ${variant:-defaults} (cache $cache)"
      XDG_CACHE_HOME=$cache TMPDIR=$(mktemp -d) bash -c 'timeout 80 python3 tests/benchmarks/server_actions.py --model "$0" --out "$1" "${@:3}"; echo "exit $?"; cp "$TMPDIR/server-actions-server.log" "$2" 2>/dev/null; tail -30 "$TMPDIR/server-actions-server.log"' \
        "$model" "$out/server-$n.json" "$out/server-$n.log" "${sets[@]}" 2>&1 | tail -60
    done
    ;;
esac
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv
