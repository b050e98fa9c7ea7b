import numpy as np
import pytest

from quantize.evaluate import chunks, kl_per_token, log_softmax, nll_per_token, summarize


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
