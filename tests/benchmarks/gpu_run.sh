#!/usr/bin/env bash
# The GPU measurements of tests/benchmarks/RESULTS.md, in stages that each fit one device call.
# On the GPU machine, from the repository root with .device/ (../shared/gpu/prepare.sh) alongside:
#   bash tests/benchmarks/gpu_run.sh build            # llama-cpp-python with CUDA + llama-bench
#   bash tests/benchmarks/gpu_run.sh synth SHAPE      # random-weight Q4_K_M GGUF of a real shape
#   bash tests/benchmarks/gpu_run.sh bench SHAPE ARGS # ours vs llama-bench (tests/benchmarks/gpu_bench.py ARGS)
# Results go to $OUT (the device tool's output folder) or ./gpu-results.
set -uo pipefail
out=${OUT:-gpu-results}
mkdir -p "$out" /tmp/models
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
stage=$1; shift

llama_bench() {
  local found
  found=$(find /tmp/site /tmp/llama-bench-build -name llama-bench -type f -perm -u+x 2>/dev/null | head -1)
  if [ -z "$found" ]; then
    local src
    src=$(ls -d /tmp/lcp-src/llama_cpp_python-*/vendor/llama.cpp 2>/dev/null | head -1)
    if [ -z "$src" ]; then mkdir -p /tmp/lcp-src && tar xzf .device/llama-cpp-python-src.tar.gz -C /tmp/lcp-src; src=$(ls -d /tmp/lcp-src/llama_cpp_python-*/vendor/llama.cpp); fi
    cap=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d '.')
    cmake -S "$src" -B /tmp/llama-bench-build -DGGML_CUDA=on -DCMAKE_CUDA_ARCHITECTURES="$cap" -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF >/dev/null &&
      cmake --build /tmp/llama-bench-build --target llama-bench -j"$(nproc)" >/tmp/llama-bench-build.log 2>&1 || { tail -20 /tmp/llama-bench-build.log; return 1; }
    found=/tmp/llama-bench-build/bin/llama-bench
  fi
  echo "$found"
}

case "$stage" in
  build)
    bash .device/build_llama_cuda.sh || exit 1
    start=$(date +%s); llama_bench && echo "llama-bench ready in $(( $(date +%s) - start )) s"
    ;;
  synth)
    shape=$1
    [ -f "/tmp/models/$shape.gguf" ] || python3 -m quantize.cli synth "$shape" "/tmp/models/$shape.gguf" --type Q4_K_M --tokenizer-from .xfer/vocab_head.gguf --json | tee "$out/synth-$shape.json"
    ls -la /tmp/models
    ;;
  bench)
    shape=$1; shift
    python3 tests/benchmarks/gpu_bench.py "/tmp/models/$shape.gguf" --llama-bench "$(llama_bench)" --out "$out/bench-$shape.json" "$@"
    ;;
esac
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv
