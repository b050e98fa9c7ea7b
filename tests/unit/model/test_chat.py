from lsp_server.model.backend import Message
from lsp_server.model.chat import gemma_turns, render_template


def test_gemma_turns_fold_the_system_message_into_the_first_user_turn():
    text = gemma_turns([Message("system", "Be brief."), Message("user", "Explain f."), Message("assistant", "It adds."), Message("user", "More?")])
    assert text == (
        "<start_of_turn>user\nBe brief.\n\nExplain f.<end_of_turn>\n"
        "<start_of_turn>model\nIt adds.<end_of_turn>\n"
        "<start_of_turn>user\nMore?<end_of_turn>\n"
        "<start_of_turn>model\n"
    )


def test_a_gguf_template_is_rendered_with_a_generation_prompt():
    template = "{{ bos_token }}{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}"
    text = render_template(template, [Message("user", "hi")], bos_token="<bos>", eos_token="<eos>")
    assert text == "<bos>[user]hi[assistant]"


# -- Gemma 4 ----------------------------------------------------------------------------------

from pathlib import Path

import pytest

from lsp_server.model.chat import channel_token_ids, fallback_turns, gemma4_turns

GEMMA4_TEMPLATE = (Path(__file__).parents[2] / "data" / "templates" / "google-gemma-4-31B-it.jinja").read_text(encoding="utf-8")

CONVERSATIONS = {
    "system and user": [Message("system", "  Be brief.\n"), Message("user", "Explain f.\n")],
    "user only": [Message("user", "Fix this:\n```python\nx = 1\n```")],
    "earlier answer with its thought": [
        Message("system", "Rules."),
        Message("user", "Q1"),
        Message("assistant", "<|channel>thought\nhmm<channel|>A1"),
        Message("user", "Q2"),
    ],
    "two answers in a row": [Message("user", "Q"), Message("assistant", "A"), Message("assistant", "B"), Message("user", "Q2")],
}


@pytest.mark.parametrize("thinking", [False, True], ids=["thinking off", "thinking on"])
@pytest.mark.parametrize("name", list(CONVERSATIONS))
def test_gemma4_fallback_renders_what_the_real_template_renders(name, thinking):
    messages = CONVERSATIONS[name]
    rendered = render_template(GEMMA4_TEMPLATE, messages, bos_token="<bos>", eos_token="<eos>", thinking=thinking)
    assert rendered == "<bos>" + gemma4_turns(messages, thinking)


def test_gemma4_turns_pre_fill_an_empty_thought_when_thinking_is_off():
    text = gemma4_turns([Message("system", "S"), Message("user", "U")])
    assert text == "<|turn>system\nS<turn|>\n<|turn>user\nU<turn|>\n<|turn>model\n<|channel>thought\n<channel|>"


def test_gemma4_turns_put_the_think_token_at_the_top_of_the_system_turn():
    text = gemma4_turns([Message("user", "U")], thinking=True)
    assert text == "<|turn>system\n<|think|>\n<turn|>\n<|turn>user\nU<turn|>\n<|turn>model\n"


def test_the_fallback_follows_the_architecture():
    messages = [Message("system", "S"), Message("user", "U")]
    assert fallback_turns("gemma4", messages).startswith("<|turn>system\nS")
    assert fallback_turns("gemma3", messages) == gemma_turns(messages)
    assert fallback_turns("gemma3", messages, thinking=True) == gemma_turns(messages)  # Gemma 3 cannot think


def test_only_single_token_channel_markers_count():
    vocab = {"<|channel>": [7], "<channel|>": [8]}
    assert channel_token_ids(lambda text: vocab[text]) == {7, 8}
    assert channel_token_ids(lambda text: [1, 2, 3]) == frozenset()  # a Gemma 3 vocabulary spells them out
