"""Pure parts of the KV-cache logic."""

from lsp_server.model.prefix_plan import PromptLookup, common_prefix


def test_common_prefix():
    assert common_prefix([1, 2, 3], [1, 2, 4, 5]) == 2
    assert common_prefix([], [1]) == 0
    assert common_prefix([1, 2], [1, 2]) == 2


def test_the_latest_match_is_copied():
    # "7 8" occurs twice; the later occurrence (followed by 30 31) wins over the earlier (10 11).
    lookup = PromptLookup([7, 8, 10, 11, 0, 7, 8, 30, 31, 5, 7, 8])
    assert lookup.draft(2) == [30, 31]
    assert lookup.draft(10) == [30, 31, 5, 7, 8]


def test_longer_ngrams_win_and_appending_updates_the_index():
    lookup = PromptLookup([1, 2, 3, 40, 9, 2, 3, 50, 1])
    lookup.append(2)
    lookup.append(3)
    assert lookup.draft(1) == [40]  # "1 2 3" beats the later "2 3 50"
    lookup.append(99)
    assert lookup.draft(3) == []  # "3 99" and "2 3 99" never occurred before


def test_no_draft_without_room():
    assert PromptLookup([1, 2, 1, 2]).draft(0) == []


def test_draft_size_grows_while_guesses_are_accepted_whole_and_shrinks_past_a_rejection():
    from lsp_server.model.prefix_plan import DraftSize

    size = DraftSize(16)
    assert size.size == 16
    size.update(proposed=16, accepted=3)  # rejected at the 4th guess: next time 4 tokens
    assert size.size == 4
    size.update(proposed=4, accepted=4)
    assert size.size == 8
    size.update(proposed=8, accepted=8)
    size.update(proposed=16, accepted=16)
    assert size.size == 16  # never above the most
    size.update(proposed=16, accepted=0)
    assert size.size == 2  # a first-token miss still leaves a cheap 2-token guess
    size.update(proposed=1, accepted=1)  # a short draft (the history ran out) accepted whole
    assert size.size == 4
