"""quantize/evaluate.py: the arithmetic on logits by hand, then KL and perplexity of real
quantizations of a tiny model."""

from pathlib import Path

import numpy as np
import pytest

from quantize.errors import BadInput
from quantize.evaluate import chunks, evaluate, kl_per_token, log_softmax, nll_per_token, summarize
from quantize.quantizer import quantize_gguf
from quantize.synth import synth

from .conftest import generate

WORKSPACE = Path(__file__).parents[1] / "e2e" / "workspace"


def test_kl_of_identical_logits_is_zero_and_shift_invariant():
    logits = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 5.0]])
    assert np.allclose(kl_per_token(logits, logits + 7.0), 0.0)


def test_kl_against_a_hand_computed_value():
    # P = (0.5, 0.5), Q = (0.25, 0.75): KL = 0.5 ln 2 + 0.5 ln(2/3)
    base = np.log(np.array([[0.5, 0.5]]))
    quant = np.log(np.array([[0.25, 0.75]]))
    assert kl_per_token(base, quant)[0] == pytest.approx(0.5 * np.log(2) + 0.5 * np.log(2 / 3))


def test_nll_reads_the_next_token():
    logits = np.log(np.array([[0.1, 0.9], [0.6, 0.4], [0.5, 0.5]]))
    nll = nll_per_token(logits, np.array([0, 1, 0]))
    assert nll == pytest.approx([-np.log(0.9), -np.log(0.6)])


def test_uniform_model_has_perplexity_of_its_vocabulary():
    logits = np.zeros((5, 4))
    result = summarize("b", "q", [np.zeros(5)], [nll_per_token(logits, np.arange(5) % 4)],
                       [nll_per_token(logits, np.arange(5) % 4)], [np.ones(5, bool)], 1)
    assert result.ppl_base == pytest.approx(4.0) and result.top1_agreement == 1.0


def test_log_softmax_rows_sum_to_one():
    assert np.allclose(np.exp(log_softmax(np.random.default_rng(0).normal(size=(3, 9)))).sum(axis=1), 1.0)


def test_chunks_drop_the_short_tail_and_respect_the_cap():
    assert chunks(list(range(10)), 4, 5) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert chunks(list(range(10)), 4, 1) == [[0, 1, 2, 3]]
    assert chunks(list(range(3)), 4, 5) == []



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
