from lsp_server.model.fit import answer_budget, fit_tokens


def test_a_prompt_that_fits_is_unchanged():
    assert fit_tokens([1, 2, 3], budget=3, keep_head=2) == ([1, 2, 3], 0)


def test_the_middle_is_cut_head_and_tail_stay():
    tokens = list(range(100))
    kept, cut = fit_tokens(tokens, budget=40, keep_head=8)
    assert cut == 60 and len(kept) == 40
    assert kept[:8] == list(range(8))
    assert kept[8:] == list(range(68, 100))


def test_the_head_is_at_most_a_quarter_of_the_budget():
    kept, _ = fit_tokens(list(range(100)), budget=20, keep_head=50)
    assert kept[:5] == list(range(5)) and kept[5:] == list(range(85, 100))


def test_answer_budget_never_takes_more_than_half_the_window():
    assert answer_budget(1000, 256) == 256
    assert answer_budget(300, 256) == 150
