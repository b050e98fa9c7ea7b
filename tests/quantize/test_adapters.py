"""model.lora_path through the product's backend: GGUF LoRA adapters (written by tune's exporter)
change what llama.cpp computes, and adapters that do not fit the base are refused before the
load with a message that says what to do. No PyTorch needed (tests/quantize/test_tune.py trains)."""

from pathlib import Path

import numpy as np
import pytest

from lsp_server.config import ModelSettings, settings_from_mapping
from lsp_server.errors import ModelLoadFailed
from lsp_server.model.adapters import adapter_paths, check_adapters
from lsp_server.model.gguf_header import read_header
from lsp_server.model.llama_backend import LlamaCppBackend
from quantize.synth import synth
from quantize.tune.export import write_adapter

PROMPT = b"def add(a, b):\n    return"


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory, tiny_shape, bundled_gguf) -> Path:
    out = tmp_path_factory.mktemp("base") / "tiny-f16.gguf"
    synth(tiny_shape, out, "F16", tokenizer_from=bundled_gguf, seed=5)
    return out


def random_adapter(base: Path, out: Path, rank: int = 4, seed: int = 0, scale: float = 0.05) -> Path:
    """An adapter of every attention and FFN matrix of ``base``, both halves random (non-zero)."""
    rng = np.random.default_rng(seed)
    tensors = {}
    for t in read_header(base).tensors:
        if t.name.endswith(("attn_q.weight", "attn_v.weight", "ffn_up.weight")):
            n_in, n_out = t.dims
            tensors[t.name + ".lora_a"] = rng.standard_normal((rank, n_in)) * scale
            tensors[t.name + ".lora_b"] = rng.standard_normal((n_out, rank)) * scale
    write_adapter(tensors, base, out, alpha=float(rank))
    return out


def logits(base: Path, lora_path, ids: list[int] | None = None):
    """The last row of logits llama.cpp computes for ``ids`` (default: PROMPT), and the model info."""
    import llama_cpp

    backend = LlamaCppBackend(ModelSettings(path=str(base), lora_path=lora_path, n_ctx=256, keep_kv_state=False, n_threads=2))
    info = backend.load()
    try:
        llm = backend._llm
        llm.reset()
        llm.eval(ids or llm.tokenize(PROMPT))
        row = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1), shape=(llm.n_vocab(),))
        return row.copy(), info
    finally:
        backend.close()


def test_an_adapter_changes_the_logits_and_two_stack(tmp_path, tiny_base):
    one = random_adapter(tiny_base, tmp_path / "one.gguf", seed=1)
    two = random_adapter(tiny_base, tmp_path / "two.gguf", seed=2)
    plain, info = logits(tiny_base, "none")
    assert info.extra["lora"] == []
    with_one, info = logits(tiny_base, str(one))
    assert info.extra["lora"] == [{"path": str(one), "alpha": 4.0, "rank": 4, "tensors": 6}]
    with_both, _ = logits(tiny_base, (str(one), str(two)))
    assert np.abs(with_one - plain).max() > 1e-2
    assert np.abs(with_both - with_one).max() > 1e-2
    again, _ = logits(tiny_base, "")
    np.testing.assert_array_equal(again, plain)


def test_an_adapter_of_another_base_is_refused_before_loading(tmp_path, tiny_base, bundled_gguf):
    adapter = random_adapter(tiny_base, tmp_path / "tiny-lora.gguf")
    backend = LlamaCppBackend(ModelSettings(path=str(bundled_gguf), lora_path=str(adapter), keep_kv_state=False))
    with pytest.raises(ModelLoadFailed, match=r"does not fit the base model .*\[640, 1024\].*gemma-quantize tune"):
        backend.load()
    assert backend._llm is None  # refused from the headers: the model was never loaded


def test_a_model_given_as_an_adapter_is_refused(tiny_base):
    with pytest.raises(ModelLoadFailed, match=r"is not a LoRA adapter \(general.type='model'.*Put a model in model.path"):
        check_adapters((tiny_base,), tiny_base)


def test_a_file_that_is_not_gguf_and_a_missing_file_are_refused(tmp_path, tiny_base):
    text = tmp_path / "notes.txt"
    text.write_text("not an adapter")
    with pytest.raises(ModelLoadFailed, match=r"notes.txt is not a GGUF file.*model.lora_path to \"none\""):
        check_adapters((text,), tiny_base)
    with pytest.raises(ModelLoadFailed, match=r"missing.gguf does not exist"):
        check_adapters((tmp_path / "missing.gguf",), tiny_base)


def test_an_adapter_with_a_tensor_the_base_lacks_is_refused(tmp_path, tiny_base):
    rank, n = 2, 256
    tensors = {"blk.99.attn_q.weight.lora_a": np.zeros((rank, n)), "blk.99.attn_q.weight.lora_b": np.zeros((n, rank))}
    with pytest.raises(ModelLoadFailed, match="blk.99.attn_q.weight, which the base model does not have"):
        write_adapter(tensors, tiny_base, tmp_path / "bad.gguf", alpha=2.0)
    assert not (tmp_path / "bad.gguf").exists() and not list(tmp_path.glob("*.partial"))


@pytest.mark.parametrize(("value", "expected"), [
    ("", ()), ("none", ()), ("None", ()), (None, ()), ("~/a.gguf", (Path("~/a.gguf").expanduser(),)),
    (("a.gguf", "none", "b.gguf"), (Path("a.gguf"), Path("b.gguf"))),
])
def test_the_setting_names_no_adapter_one_or_a_list(value, expected):
    assert adapter_paths(value) == expected


def test_the_bundled_model_gets_the_bundled_adapter_unless_the_setting_names_another_or_none(tmp_path, monkeypatch):
    from lsp_server.model import adapters

    bundled = tmp_path / "bundled-lora.gguf"
    monkeypatch.setattr(adapters, "BUNDLED_ADAPTER", bundled)
    assert adapter_paths("", bundled_model=True) == ()  # not installed: none
    bundled.write_bytes(b"GGUF")
    assert adapter_paths("", bundled_model=True) == (bundled,)
    assert adapter_paths(None, bundled_model=True) == (bundled,)
    assert adapter_paths("none", bundled_model=True) == ()
    assert adapter_paths("mine.gguf", bundled_model=True) == (Path("mine.gguf"),)
    assert adapter_paths("", bundled_model=False) == ()  # made for the 270M, never put on another model


def test_the_setting_takes_a_string_or_a_list_and_refuses_a_number():
    settings, problems = settings_from_mapping({"model": {"loraPath": ["a.gguf", "b.gguf"]}})
    assert settings.model.lora_path == ("a.gguf", "b.gguf") and problems == []
    settings, problems = settings_from_mapping({"model": {"lora_path": 3}})
    assert settings.model.lora_path == "" and "model.lora_path: 3 is not" in problems[0]


def test_doctor_reports_the_adapter_and_a_refusal(tmp_path, tiny_base, bundled_gguf):
    from lsp_server.cli.doctor import model_facts
    from lsp_server.config import Settings

    adapter = random_adapter(tiny_base, tmp_path / "lora.gguf")
    facts = model_facts(Settings(model=ModelSettings(path=str(tiny_base), lora_path=str(adapter), keep_kv_state=False)))
    assert facts["loaded"] and facts["lora"] == [{"path": str(adapter), "alpha": 4.0, "rank": 4, "tensors": 6}]
    facts = model_facts(Settings(model=ModelSettings(path=str(bundled_gguf), lora_path=str(adapter), keep_kv_state=False)))
    assert not facts["loaded"] and "does not fit the base model" in facts["error"]


def test_an_adapter_of_the_bundled_model_changes_what_it_computes(tmp_path, bundled_gguf):
    adapter = random_adapter(bundled_gguf, tmp_path / "bundled-lora.gguf", rank=2, scale=0.02)
    plain, _ = logits(bundled_gguf, "none")
    tuned, info = logits(bundled_gguf, [str(adapter)])
    assert info.extra["lora"][0]["tensors"] == 3 * 18  # attn_q, attn_v, ffn_up of the 270M's 18 layers
    assert np.abs(tuned - plain).max() > 1e-2
