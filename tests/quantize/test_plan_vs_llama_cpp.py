"""plan's KV cache (exactly) and compute buffer (within 2%) against what llama.cpp itself allocates."""

import contextlib
import io
import re

import pytest

from quantize.gguf_meta import read_summary
from quantize.plan import compute_buffer_bytes, kv_cache_bytes
from quantize.synth import synth

from .conftest import reduced_gemma4

KV_LINE = re.compile(r"llama_kv_cache: size =\s+([0-9.]+) MiB")
COMPUTE_LINE = re.compile(r"compute buffer size =\s+([0-9.]+) MiB")


def llama_cpp_sizes(path, n_ctx):
    """(KV MiB, compute MiB) from llama.cpp's log while it makes a context."""
    import llama_cpp

    # llama-cpp-python prints llama.cpp's log to sys.stderr.
    log = io.StringIO()
    with contextlib.redirect_stderr(log):
        model = llama_cpp.Llama(str(path), n_ctx=n_ctx, flash_attn=True, swa_full=False, n_ubatch=512,
                                n_batch=512, n_threads=2, verbose=True)
        model.close()
    text = log.getvalue()
    return sum(map(float, KV_LINE.findall(text))), sum(map(float, COMPUTE_LINE.findall(text)))


def _check(path, n_ctx):
    shape = read_summary(path).shape
    kv, compute = llama_cpp_sizes(path, n_ctx)
    assert kv_cache_bytes(shape, n_ctx) / 2**20 == pytest.approx(kv, abs=0.01)
    assert compute_buffer_bytes(shape, n_ctx) / 2**20 == pytest.approx(compute, rel=0.02)


def test_bundled_gemma3_270m(bundled_gguf):
    _check(bundled_gguf, 8192)


@pytest.mark.parametrize("name", ["gemma4-31b", "gemma4-e2b"])
def test_gemma4_kv_with_wide_global_heads_and_shared_layers(tmp_path, bundled_gguf, name):
    out = tmp_path / f"{name}.gguf"
    synth(reduced_gemma4(name), out, "Q8_0", tokenizer_from=bundled_gguf)
    _check(out, 4096)
