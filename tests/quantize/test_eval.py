from pathlib import Path

import pytest

from quantize.errors import BadInput
from quantize.evaluate import evaluate
from quantize.quantizer import quantize_gguf
from quantize.synth import synth

from .conftest import generate

WORKSPACE = Path(__file__).parents[1] / "e2e" / "workspace"


@pytest.fixture(scope="module")
def family(tmp_path_factory, bundled_gguf, tiny_shape):
    """One F16 model and two quantizations of it."""
    folder = tmp_path_factory.mktemp("family")
    f16 = folder / "f16.gguf"
    synth(tiny_shape, f16, "F16", tokenizer_from=bundled_gguf, seed=3)
    return f16, quantize_gguf(f16, folder / "q8.gguf", "Q8_0").output, quantize_gguf(f16, folder / "q4.gguf", "Q4_0").output


def test_both_quantizations_run(family):
    for path in family[1:]:
        assert generate(path)["usage"]["completion_tokens"] >= 1


def test_kl_is_zero_against_itself_and_grows_with_coarser_quants(family):
    f16, q8, q4 = family
    same = evaluate(f16, f16, WORKSPACE, n_ctx=64, max_chunks=2, threads=2)
    r8 = evaluate(f16, q8, WORKSPACE, n_ctx=64, max_chunks=2, threads=2)
    r4 = evaluate(f16, q4, WORKSPACE, n_ctx=64, max_chunks=2, threads=2)
    assert same.kl_mean == pytest.approx(0.0, abs=1e-9) and same.top1_agreement == 1.0
    assert 0 < r8.kl_mean < r4.kl_mean
    assert r8.n_tokens == 128 and r8.files == 5  # 2 chunks of BOS + 63 tokens; the fixture has 5 .py files
    assert r4.ppl_base == pytest.approx(same.ppl_base, rel=1e-6)


def test_eval_needs_code_to_read(tmp_path, family):
    with pytest.raises(BadInput, match="No Python files"):
        evaluate(family[0], family[1], tmp_path)
