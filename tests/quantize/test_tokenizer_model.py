"""A checkpoint that ships only a SentencePiece tokenizer.model: a small BPE model is trained here
on this repository's code (Gemma's settings: byte fallback, no dummy prefix, whitespace kept),
converted with a tiny Gemma 3 and Gemma 4 model, and llama.cpp must split text as SentencePiece
itself does."""

import io

import numpy as np
import pytest

spm = pytest.importorskip("sentencepiece")
pytest.importorskip("google.protobuf")

from quantize.convert import convert
from quantize.errors import BadInput
from lsp_server.model.gguf_header import read_header
from quantize.hf_tokenizer import read_tokenizer_model
from tests.python_samples import sample_module

from .hf_checkpoint import (
    gemma4_config,
    gemma4_tensors,
    gemma4_text_config,
    write_checkpoint,
)

VOCAB = 1024
SAMPLE = "def café(x):\n    return  x**2 + 12345  # <start_of_turn> naïve\n\n\tpass\n"


@pytest.fixture(scope="module")
def tokenizer_model() -> bytes:
    lines = [line for seed in range(40) for line in sample_module(seed).split("\n")]  # generated Python to learn from
    out = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_writer=out, vocab_size=VOCAB, model_type="bpe", byte_fallback=True,
        add_dummy_prefix=False, remove_extra_whitespaces=False, normalization_rule_name="identity",
        split_digits=True, allow_whitespace_only_pieces=True, user_defined_symbols=["<start_of_turn>", "\n", "\t"],
        pad_id=0, eos_id=1, bos_id=2, unk_id=3, pad_piece="<pad>", eos_piece="<eos>", bos_piece="<bos>",
        unk_piece="<unk>", minloglevel=2)
    return out.getvalue()


def _gemma3(rng):
    from .test_convert import CONFIG, _hf_tensors

    tensors = _hf_tensors(rng)
    tensors["model.embed_tokens.weight"] = tensors["model.embed_tokens.weight"][:VOCAB]
    return tensors, {**CONFIG, "vocab_size": VOCAB}


def _gemma4(rng):
    cfg = gemma4_text_config(vocab_size=VOCAB)
    return gemma4_tensors(cfg, rng), gemma4_config(cfg)


@pytest.mark.parametrize("arch,make,tokenizer", [("gemma3", _gemma3, "llama"), ("gemma4", _gemma4, "gemma4")])
def test_tokenizer_model_splits_text_as_sentencepiece_does(tmp_path, tokenizer_model, arch, make, tokenizer):
    import llama_cpp

    tensors, config = make(np.random.default_rng(0))
    folder = write_checkpoint(tmp_path / arch, tensors, config)
    (folder / "tokenizer.model").write_bytes(tokenizer_model)
    out = convert(folder, tmp_path / f"{arch}.gguf", "F16")
    header = read_header(out.output)
    assert header.get("tokenizer.ggml.model") == tokenizer and header.get("tokenizer.ggml.bos_token_id") == 2
    expected = spm.SentencePieceProcessor(model_proto=tokenizer_model).encode(SAMPLE)
    model = llama_cpp.Llama(str(out.output), vocab_only=True, verbose=False)
    try:
        assert model.tokenize(SAMPLE.encode(), add_bos=False, special=False) == expected
    finally:
        model.close()


def test_piece_types_come_from_the_model(tmp_path, tokenizer_model):
    (tmp_path / "tokenizer.model").write_bytes(tokenizer_model)
    vocab = read_tokenizer_model(tmp_path)
    kinds = dict(zip(vocab.tokens, vocab.types))
    assert (kinds["<bos>"], kinds["<unk>"], kinds["<start_of_turn>"], kinds["<0x0A>"]) == (3, 2, 4, 6)
    assert len(vocab.tokens) == VOCAB
    (tmp_path / "tokenizer.model").write_bytes(b"not a model")
    with pytest.raises(BadInput, match="--vocab-from"):
        read_tokenizer_model(tmp_path)
