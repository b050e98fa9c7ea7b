import pytest

from lsp_server.model.thinking import CUT_OFF_NOTE, InlineThought, Split, ThoughtRouter, model_thinks, split_thought, strip_thoughts, wants_thinking

ANSWER = "Here:\n```python\ndef f():\n    return 1\n```"


def test_a_complete_thought_is_kept_apart_from_the_answer():
    split = split_thought("<|channel>thought\nThe test expects 1.<channel|>" + ANSWER)
    assert split == Split(thought="The test expects 1.", answer=ANSWER, cut_off=False)


def test_an_answer_cut_off_inside_the_thought_is_marked():
    split = split_thought("<|channel>thought\nFirst I check the")
    assert split == Split(thought="First I check the", answer="", cut_off=True)


def test_text_without_a_channel_is_all_answer():
    assert split_thought(ANSWER) == Split(thought="", answer=ANSWER)


def test_a_prompt_that_left_the_thought_open_makes_the_start_thought():
    split = split_thought("reasoning<channel|>" + ANSWER, thinking=True)
    assert split == Split(thought="reasoning", answer=ANSWER)


def test_an_empty_thought_channel_leaves_only_the_answer():
    assert split_thought("<|channel>thought\n<channel|>" + ANSWER) == Split(thought="", answer=ANSWER)


def test_control_token_text_never_reaches_the_answer():
    split = split_thought("<|channel>thought\nx<channel|>" + ANSWER + "<turn|>")
    assert split.answer == ANSWER


def test_strip_thoughts_matches_the_template_macro():
    assert strip_thoughts("<|channel>thought\nhmm<channel|>A1 ") == "A1"
    assert strip_thoughts("plain") == "plain"


@pytest.mark.parametrize("size", [1, 2, 3, 5, 1000])
def test_the_router_streams_the_thought_and_the_answer_apart_whatever_the_piece_size(size):
    text = "<|channel>thought\nThe test expects 1.<channel|>" + ANSWER
    answer, thought = [], []
    router = ThoughtRouter(answer.append, thought.append)
    for start in range(0, len(text), size):
        router(text[start:start + size])
    router.finish()
    assert "".join(thought) == "The test expects 1."
    assert "".join(answer) == ANSWER


def test_the_router_without_a_thought_listener_drops_the_thought():
    answer = []
    router = ThoughtRouter(answer.append)
    router("<|channel>thought\nsecret plan<channel|>code")
    router.finish()
    assert answer == ["code"]


def test_a_text_that_only_looks_like_a_marker_start_is_passed_on_at_the_end():
    answer = []
    router = ThoughtRouter(answer.append)
    router("a <|chan")
    router.finish()
    assert "".join(answer) == "a <|chan"


@pytest.mark.parametrize("mode, action, thinks, expected", [
    ("auto", "fix_test", True, True),
    ("auto", "refactor", True, True),
    ("auto", "explain", True, False),
    ("on", "explain", True, True),
    ("off", "fix_test", True, False),
    ("on", "fix_test", False, False),
])
def test_which_requests_think(mode, action, thinks, expected):
    assert wants_thinking(mode, action, thinks) is expected


def test_the_cut_off_note_names_the_settings_to_change():
    assert "model.thinking_max_tokens" in CUT_OFF_NOTE and "model.thinking" in CUT_OFF_NOTE


def test_a_model_thinks_by_family_name_or_template():
    from pathlib import Path

    template = (Path(__file__).parents[2] / "data" / "templates" / "google-gemma-4-31B-it.jinja").read_text(encoding="utf-8")
    assert model_thinks("gemma4")
    assert model_thinks("remote", name="google/gemma-4-31b-it")
    assert model_thinks("remote", template)
    assert not model_thinks("gemma3", "{% for m in messages %}{{ m.content }}{% endfor %}", "gemma-3-270m-it")


def test_a_separately_returned_thought_is_written_back_inline_and_split_the_same_way():
    inline = InlineThought()
    text = inline.feed("The test", "") + inline.feed(" expects 1.", "") + inline.feed("", "```python\nx = 1\n```")
    assert text == "<|channel>thought\nThe test expects 1.<channel|>```python\nx = 1\n```"
    assert split_thought(text) == Split("The test expects 1.", "```python\nx = 1\n```")
    assert InlineThought().feed("", "plain") == "plain"


def test_a_thought_is_folded_in_a_document_and_nothing_is_added_without_one():
    from lsp_server.model.thinking import folded_thought

    assert folded_thought("") == ""
    folded = folded_thought("The test expects 1.")
    assert folded.startswith("<details>") and "The test expects 1." in folded and folded.rstrip().endswith("</details>")


def test_the_thought_and_the_answer_spend_their_own_budgets():
    from lsp_server.model.thinking import TokenBudget

    budget = TokenBudget(answer=2, thought=3, total=100)
    assert [budget.spend(True) for _ in range(3)] == [False, False, True]  # the thought's ran out
    budget = TokenBudget(answer=2, thought=3, total=100)
    assert [budget.spend(True), budget.spend(True), budget.spend(False), budget.spend(False)] == [False, False, False, True]
    budget = TokenBudget(answer=10, thought=10, total=2)
    assert [budget.spend(False), budget.spend(True)] == [False, True]  # the context window's room
    budget = TokenBudget(answer=2, thought=0, total=100)
    assert [budget.spend(True), budget.spend(False)] == [False, True]  # thinking off: all of it is answer


def test_a_thinking_request_gets_the_thoughts_budget_on_top_of_the_answers():
    from lsp_server.model.backend import GenerationRequest, Message
    from lsp_server.model.thinking import with_thinking

    chat = GenerationRequest(messages=(Message("user", "q"),), max_tokens=256)
    thought = []
    thinking = with_thinking(chat, True, 1024, thought.append)
    assert (thinking.thinking, thinking.thinking_tokens, thinking.max_tokens, thinking.on_thought) == (True, 1024, 256, thought.append)
    assert with_thinking(chat, False, 1024, None) == chat
    completion = GenerationRequest(text="def f():", max_tokens=256)
    assert with_thinking(completion, True, 1024, None) == completion  # no channel in a few-shot prompt
