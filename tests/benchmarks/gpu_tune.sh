#!/usr/bin/env bash
# `gemma-quantize tune` of the bundled Gemma 3 270M on the offline GPU machine, in device calls of
# at most 64 MiB each (the device tool's limit; the GGUF alone is 242 MiB).
#
# Here, from the repository root (reaches PyPI; the [tune] extra installed):
#   bash tests/benchmarks/gpu_tune.sh prepare REPO...
#     builds the training set here (single-threaded: 201 s here, over 6 min on the GPU machine's
#     CPU), cuts the bundled GGUF into 6 parts and fills .xfer/ (git-ignored) with them, the
#     transformers/peft/project wheels and this machine's llama_cpp package (tokenizing only).
# Then six device calls, each started within 30 s of the last (the machine stays warm 30 s):
#   carry [".xfer/kit", ".xfer/p0", ".xfer/exg"]: bash .xfer/kit/gpu_tune.sh setup
#   carry [".xfer/p1"] ... [".xfer/p4"]:          mkdir -p /tmp/m && cp .xfer/p*/* /tmp/m/
#   carry [".xfer/p5", ".xfer/sh"]:               TUNE_ARGS="--max-minutes 7" bash .xfer/sh/gpu_tune.sh train
# The adapter, its manifest and the log come back in $OUT.
# The bundled adapter's set was cut from the prepared one first (all Generate tests examples, a
# seeded share of the rest): python -m tests.benchmarks.tune_subset .xfer/exg/examples.jsonl.gz OUT.jsonl
# then gzip OUT.jsonl into .xfer/exg/examples.jsonl.gz and OUT.json to .xfer/exg/examples.json.
set -uo pipefail
stage=$1; shift
model=gemma-3-270m-q4_k_m.gguf

prepare() {
  local bundled
  bundled=$(python3 -c "from lsp_server.model.resolve import bundled_model_path as b; print(b())") || exit 1
  grep -qx '/.xfer/' .git/info/exclude || echo '/.xfer/' >> .git/info/exclude
  rm -rf .xfer && mkdir -p .xfer/kit/whl .xfer/exg .xfer/sh .xfer/p0 .xfer/p1 .xfer/p2 .xfer/p3 .xfer/p4 .xfer/p5
  gemma-quantize tune "$@" .xfer/exg/examples.jsonl --dataset-only || exit 1
  gzip .xfer/exg/examples.jsonl
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform any \
    -d .xfer/kit/whl transformers==5.18.0 peft==0.21.0 gguf==0.19.0 tree-sitter==0.26.1 tree-sitter-python==0.25.0 \
    diskcache==5.6.3 platformdirs==4.14.8 pathspec==1.1.1 || exit 1
  # llama_cpp only tokenizes there (vocab_only): this machine's build will do, its .so copies as links
  local site
  site=$(python3 -c "import llama_cpp, os; print(os.path.dirname(llama_cpp.__file__))")
  rm -rf /tmp/gpu_tune_lc && mkdir -p /tmp/gpu_tune_lc && cp -r "$site" /tmp/gpu_tune_lc/ && rm -rf /tmp/gpu_tune_lc/llama_cpp/__pycache__
  (cd /tmp/gpu_tune_lc/llama_cpp/lib && for f in *.so; do for g in "$f".*; do [ -e "$g" ] && rm "$g" && ln -s "$f" "$g"; done; done)
  tar czf .xfer/kit/llama_cpp.tgz -C /tmp/gpu_tune_lc llama_cpp
  cp "$0" .xfer/kit/gpu_tune.sh && cp "$0" .xfer/sh/gpu_tune.sh
  # each call also carries the tracked tree (about 10 MiB with the bundled adapter; 9.6 + 57.3 MB
  # was refused, 9.6 + 53.3 MB went): the first, with the kit (about 19 MB), takes 36 MB of the
  # model, five more calls 43.5 MB each
  head -c 36000000 "$bundled" > .xfer/p0/c00
  tail -c +36000001 "$bundled" | split -b 43500000 -d -a 2 - .xfer/part
  for i in 1 2 3 4 5; do mv ".xfer/part0$((i - 1))" ".xfer/p$i/c0$i"; done
  du -sh .xfer/*
}

setup() {
  mkdir -p /tmp/m /tmp/site /tmp/ex
  cp .xfer/p0/* /tmp/m/ && cp .xfer/exg/* /tmp/ex/ && gunzip -f /tmp/ex/examples.jsonl.gz
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .xfer/kit/whl/*.whl || exit 1
  tar xzf .xfer/kit/llama_cpp.tgz -C /tmp/site
  PYTHONPATH=/tmp/site python3 -c "import torch, transformers, peft, llama_cpp; print(torch.__version__, transformers.__version__, peft.__version__, torch.cuda.get_device_name())"
}

train() {
  local out=${OUT:-gpu-results}
  mkdir -p "$out"
  cp .xfer/p5/* /tmp/m/
  cat /tmp/m/c00 /tmp/m/c01 /tmp/m/c02 /tmp/m/c03 /tmp/m/c04 /tmp/m/c05 > /tmp/m/$model
  sha256sum /tmp/m/$model | tee "$out/sha.txt"
  nvidia-smi --query-gpu=name,memory.total --format=csv | tee "$out/gpu.txt"
  export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
  # shellcheck disable=SC2086
  python3 -c 'import sys; from quantize.cli import main; sys.exit(main())' tune "$out/gemma3-270m-code-lora.gguf" \
    --examples /tmp/ex/examples.jsonl --base /tmp/m/$model ${TUNE_ARGS:-} 2>&1 | tr '\r' '\n' \
    | awk 'NR % 20 == 1 || !/Training:/' | tee "$out/tune.log"
}

"$stage" "$@"
