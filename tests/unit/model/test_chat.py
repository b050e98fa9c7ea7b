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
