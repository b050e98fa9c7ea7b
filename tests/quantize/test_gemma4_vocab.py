"""The Gemma 4 fixture model: Gemma 4's control tokens are control tokens llama.cpp knows."""

import pytest

from quantize.gemma4_vocab import ADDED, with_gemma4_tokens
from tests.gemma4_fixture import TEMPLATE, build_gemma4_gguf


def test_gemma4_tokens_take_the_turn_markers_places_and_unused_slots():
    tokens = ["<pad>", "<unused0>", "<unused1>"] + [f"<unused{i}>" for i in range(2, 20)] + ["<start_of_turn>", "<end_of_turn>", "a"]
    types = [3] * (len(tokens) - 1) + [1]
    new, new_types = with_gemma4_tokens(tokens, types)
    assert new[-3:] == ["<|turn>", "<turn|>", "a"] and new_types[-1] == 1
    assert new[1:1 + len(ADDED)] == list(ADDED)
    assert len(new) == len(tokens)


def test_too_few_unused_slots_is_an_error():
    with pytest.raises(ValueError, match="unused"):
        with_gemma4_tokens(["<start_of_turn>", "<end_of_turn>", "<unused0>"], [3, 3, 3])


@pytest.fixture(scope="module")
def gemma4_model(tmp_path_factory, bundled_gguf):
    import llama_cpp

    path = build_gemma4_gguf(tmp_path_factory.mktemp("gemma4") / "gemma4-tiny.gguf", bundled_gguf)
    model = llama_cpp.Llama(str(path), n_ctx=512, n_threads=2, verbose=False)
    yield model
    model.close()


@pytest.mark.parametrize("marker", ["<|turn>", "<turn|>", "<|channel>", "<channel|>", "<|think|>"])
def test_llama_cpp_reads_each_marker_as_one_control_token(gemma4_model, marker):
    import llama_cpp

    tokens = gemma4_model.tokenize(marker.encode(), add_bos=False, special=True)
    assert len(tokens) == 1
    attr = llama_cpp.llama_vocab_get_attr(gemma4_model._model.vocab, tokens[0])
    assert attr & llama_cpp.LLAMA_TOKEN_ATTR_CONTROL
    assert gemma4_model.detokenize(tokens) == b""  # never shown as text unless asked


def test_llama_cpp_ends_generation_at_the_end_of_a_turn(gemma4_model):
    import llama_cpp

    vocab = gemma4_model._model.vocab
    end_of_turn, = gemma4_model.tokenize(b"<turn|>", add_bos=False, special=True)
    start_of_turn, = gemma4_model.tokenize(b"<|turn>", add_bos=False, special=True)
    assert llama_cpp.llama_vocab_is_eog(vocab, end_of_turn)
    assert not llama_cpp.llama_vocab_is_eog(vocab, start_of_turn)


def test_the_file_is_gemma4_with_the_real_template_and_runs(gemma4_model):
    meta = gemma4_model.metadata
    assert meta["general.architecture"] == "gemma4"
    assert meta["tokenizer.chat_template"] == TEMPLATE.read_text(encoding="utf-8")
    answer = gemma4_model.create_completion("def add(a, b):", max_tokens=3, temperature=0.0)
    assert answer["usage"]["completion_tokens"] >= 1


def test_the_bundled_gemma3_file_ends_generation_at_its_own_end_of_turn(bundled_gguf):
    """The other family: llama.cpp knows <end_of_turn> by name as well, so one EOG check serves both."""
    import llama_cpp

    model = llama_cpp.Llama(str(bundled_gguf), n_ctx=256, n_threads=2, verbose=False, vocab_only=True)
    try:
        end_of_turn, = model.tokenize(b"<end_of_turn>", add_bos=False, special=True)
        assert llama_cpp.llama_vocab_is_eog(model._model.vocab, end_of_turn)
        assert len(model.tokenize(b"<turn|>", add_bos=False, special=True)) > 1  # not a Gemma 3 token
    finally:
        model.close()
