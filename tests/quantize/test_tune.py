"""``gemma-quantize tune`` end to end on CPU: a tiny random Gemma 3 checkpoint converted to GGUF,
a LoRA trained with PEFT on a small repository in the actions' prompt formats, exported as a GGUF
adapter, then loaded with the base by the product's backend (model.lora_path): llama.cpp's change
of the logits must follow PyTorch's. Needs the [tune] extra (skipped without it)."""

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from lsp_server.model.gguf_header import read_header
from quantize.cli import main
from quantize.convert import convert
from quantize.tune.dataset import build_examples, counts, explain_answer
from quantize.tune.run import _seen

from .test_adapters import logits
from .test_convert import _hf_tensors, _write_checkpoint

WORKSPACE = Path(__file__).resolve().parents[1] / "e2e" / "workspace"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("hf") / "gemma3-tiny"
    tensors = _hf_tensors(np.random.default_rng(0))
    _write_checkpoint(folder, tensors)
    shard = {2: "model-00001-of-00002.safetensors", 1: "model-00002-of-00002.safetensors"}
    index = {"metadata": {}, "weight_map": {name: shard[value.ndim] for name, value in tensors.items()}}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))  # what transformers reads shards by
    return folder


@pytest.fixture(scope="module")
def tiny_gguf(checkpoint, bundled_gguf) -> Path:
    return convert(checkpoint, checkpoint.parent / "tiny-f16.gguf", "F16", vocab_from=bundled_gguf).output


@pytest.fixture()
def repo(tmp_path) -> Path:
    return Path(shutil.copytree(WORKSPACE, tmp_path / "repo"))


def test_explain_answers_are_the_docstrings_prose_up_to_a_word_limit():
    docstring = ("Return the price reduced by a percentage.\n\n    Raises ValueError when percent is\n    outside 0-100.\n\n"
                 "    >>> apply_discount(200, 10)\n    180.0\n\n    .. versionadded:: 2.0\n\n    Rounded to cents.")
    assert explain_answer(docstring) == ("Return the price reduced by a percentage.\n\nRaises ValueError when percent is outside 0-100."
                                         "\n\nRounded to cents.")
    assert explain_answer(docstring, max_words=12) == "Return the price reduced by a percentage."
    assert explain_answer("One two three. Four five six seven.", max_words=5) == "One two three."
    assert explain_answer("one two three four five six", max_words=4) == "one two three four"


def test_the_summary_says_how_much_of_the_set_training_saw():
    assert _seen(700, 3200) == "700 of 3200 examples"
    assert _seen(3352, 3200) == "1.05 passes over 3200 examples"  # a second epoch begun, not "3352 of 3200"


def test_the_training_set_is_the_actions_prompts_with_the_repositorys_answers(repo):
    examples = build_examples(repo, "completion", 256)
    assert counts(examples) == {"explain": 2, "generate_tests": 1, "implement": 5}
    explain = next(e for e in examples if e.source == "shop/pricing.py:apply_discount" and e.task == "explain")
    assert explain.request.text.endswith("### Code\ndef apply_discount(price, percent):\n    if percent < 0 or percent > 100:\n"
                                         '        raise ValueError("percent must be between 0 and 100")\n'
                                         "    return round(price * (100 - percent) / 100, 2)\n### Explanation\n")
    assert "Return the price reduced" not in explain.request.text  # the answer is not in the prompt
    assert (explain.request.answer_prefix, explain.answer) == ("`apply_discount`", " returns the price reduced by a percentage.\n###")
    tests = next(e for e in examples if e.task == "generate_tests")
    assert tests.request.answer_prefix == "import pytest\nfrom shop.pricing import apply_discount\n\n\ndef test_"
    assert tests.answer.startswith("ten_percent_off():\n    assert apply_discount(200, 10) == 180")
    implement = next(e for e in examples if e.source == "shop/cart.py:Cart.total" and e.task == "implement")
    assert "### Stub\ndef total(self, discount=0):\n        raise NotImplementedError\n### Implementation\n" in implement.request.text
    assert implement.answer == ("    subtotal = sum(price * quantity for _, price, quantity in self.items)\n"
                                "    return apply_discount(subtotal, discount)\n###")


def test_tests_that_call_a_re_exported_function_or_a_module_alias_are_examples(tmp_path):
    pkg = tmp_path / "src" / "strs"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("from .case import shout\n")
    (pkg / "case.py").write_text("def shout(text):\n    return text.upper() + '!'\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_strs.py").write_text(
        "import strs as s\nfrom strs import shout\n\n\n"
        "def test_alias():\n    assert s.shout('a') == 'A!'\n\n\n"
        "def test_other_names():\n    assert s.shout(s.VERSION)\n\n\n"  # uses more of s: not an example
        "def test_name():\n    assert shout('b') == 'B!'\n")
    tests = [e for e in build_examples(tmp_path, "completion", 256) if e.task == "generate_tests"]
    assert [e.source for e in tests] == ["src/strs/case.py:shout"]  # the module defining it, not __init__.py
    assert "alias():\n    assert shout('a') == 'A!'" in tests[0].answer  # s.shout( written as the test file imports it
    assert "name():\n    assert shout('b')" in tests[0].answer and "VERSION" not in tests[0].answer


def test_a_docstring_a_neighbour_repeats_is_no_explain_example(tmp_path):
    said = "Split the order into lines and return the total price of every line in cents."
    (tmp_path / "orders.py").write_text(
        f'def total(order):\n    """{said}"""\n    return sum(line.price for line in order.lines)\n\n\n'
        f'def total_again(order):\n    """{said}"""\n    return sum(line.price for line in order.lines)\n\n\n'
        'def count(order):\n    """Count the lines of the order, each line once whatever its quantity."""\n    return len(order.lines)\n')
    explained = [e.source for e in build_examples(tmp_path, "completion", 256) if e.task == "explain"]
    assert explained == ["orders.py:count"], "each copy of the shared docstring would teach copying the other"


def test_a_padded_batch_has_the_loss_of_its_examples_one_by_one(checkpoint):
    torch = pytest.importorskip("torch")
    pytest.importorskip("peft")
    from quantize.tune.train import TrainResult, Tokenized, _batch_loss, load_model

    model = load_model(Path("unused.gguf"), checkpoint, "cpu")
    short, long = Tokenized([2, 10, 11], [12, 13], "explain"), Tokenized([2, 20, 21, 22, 23, 24], [25, 26, 27], "implement")
    result = TrainResult(model, "cpu", 2, 0, 0.0, 0)
    alone = [_batch_loss(torch, model, [pair], "cpu", result) for pair in (short, long)]
    together = _batch_loss(torch, model, [short, long], "cpu", result)
    assert together == pytest.approx(sum(alone) / 2, rel=1e-4)  # left padding changes nothing


def test_tune_trains_an_adapter_that_llama_cpp_applies_as_pytorch_does(tiny_gguf, checkpoint, repo, tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("peft")
    pytest.importorskip("transformers")
    from quantize.tune.export import export_peft
    from quantize.tune.train import TuneOptions, tokenize_examples, train

    pairs = tokenize_examples(tiny_gguf, build_examples(repo, "completion", 96), 128)
    options = TuneOptions(rank=4, alpha=8.0, max_tokens=128, batch=1, max_steps=1, learning_rate=3e-2)
    # The weights from the checkpoint: transformers reads a GGUF's 262K-token vocabulary for 30-45 s.
    result = train(tiny_gguf, pairs, checkpoint, options, progress=False)
    adapter = export_peft(result.model, tiny_gguf, tmp_path / "adapter.gguf", options.alpha)
    assert (adapter.tensors, adapter.rank) == (14, 4)  # q, k, v, o, gate, up, down of 2 layers
    ids = pairs[0][0][-32:]
    with torch.no_grad():
        tuned = result.model(input_ids=torch.tensor([ids])).logits[0, -1].numpy()
        with result.model.disable_adapter():
            untuned = result.model(input_ids=torch.tensor([ids])).logits[0, -1].numpy()
    plain, _ = logits(tiny_gguf, "none", ids)
    with_adapter, info = logits(tiny_gguf, str(adapter.output), ids)
    assert info.extra["lora"][0]["tensors"] == 14
    change_torch, change_llama = tuned - untuned, with_adapter - plain
    assert np.abs(change_llama).max() > 0.1
    assert np.corrcoef(change_torch, change_llama)[0, 1] > 0.9  # same tensors, same orientation, same scale


def test_the_command_writes_the_training_set(tiny_gguf, repo, tmp_path, capsys):
    out = tmp_path / "set.jsonl"
    assert main(["tune", str(repo), str(out), "--base", str(tiny_gguf), "--dataset-only", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["examples"] == {"explain": 2, "generate_tests": 1, "implement": 5}
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert {row["task"] for row in rows} == {"explain", "generate_tests", "implement"}
    assert main(["tune", str(repo), str(out), "--base", str(tiny_gguf), "--dataset-only"]) == 2
    assert "exists: pass --force" in capsys.readouterr().err


def test_the_command_trains_on_a_written_training_set(tiny_gguf, checkpoint, repo, tmp_path, capsys):
    pytest.importorskip("torch")
    pytest.importorskip("peft")
    examples, out = tmp_path / "set.jsonl", tmp_path / "adapter.gguf"
    assert main(["tune", str(repo), str(examples), "--base", str(tiny_gguf), "--dataset-only", "--json"]) == 0
    capsys.readouterr()
    args = ["tune", str(out), "--examples", str(examples), "--base", str(tiny_gguf), "--max-steps", "1", "--batch", "2",
            "--max-tokens", "96", "--rank", "2", "--weights", str(checkpoint), "--json"]
    assert main(args) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["steps"] == 1 and facts["examples_file"] == "set.jsonl"
    assert facts["examples"] == {"explain": 2, "generate_tests": 1, "implement": 5} and str(repo) in facts["repos"]
    assert main(["tune", str(tmp_path / "b.gguf"), "--examples", str(tmp_path / "none.jsonl"), "--base", str(tiny_gguf)]) == 2
    assert "--dataset-only" in capsys.readouterr().err
    assert main(["tune", str(repo), str(tmp_path / "c.gguf"), "--examples", str(examples), "--base", str(tiny_gguf)]) == 2
    assert "not both" in capsys.readouterr().err


def test_without_the_tune_extra_the_command_says_what_to_install(tiny_gguf, repo, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "peft", None)  # import peft raises ImportError
    assert main(["tune", str(repo), str(tmp_path / "a.gguf"), "--base", str(tiny_gguf)]) == 2
    err = capsys.readouterr().err
    assert "trains with PyTorch, transformers and PEFT" in err and "pip install 'gemma-lsp[tune]'" in err
    assert not (tmp_path / "a.gguf").exists()


def test_a_base_transformers_cannot_read_asks_for_its_checkpoint_folder(bundled_gguf, tmp_path):
    """transformers 5.18 fails on a Gemma 4 E-model GGUF inside its config validation (per-layer FFN
    widths), with an exception of its own kind: tune says to give --weights, not a traceback."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from quantize.errors import BadInput
    from quantize.shapes import load_shape
    from quantize.synth import synth
    from quantize.tune.train import load_model
    from tests.benchmarks.tune_memory import shrunk

    base = tmp_path / "e2b-tiny.gguf"
    synth(shrunk(load_shape("gemma4-e2b")), base, "Q8_0", tokenizer_from=bundled_gguf)
    with pytest.raises(BadInput, match="--weights"):
        load_model(base, None, "cpu")


def test_the_command_trains_and_writes_adapter_and_manifest(tiny_gguf, checkpoint, repo, tmp_path, capsys):
    torch = pytest.importorskip("torch")
    pytest.importorskip("peft")
    out = tmp_path / "adapter.gguf"
    args = ["tune", str(repo), str(out), "--base", str(tiny_gguf), "--max-steps", "1", "--batch", "1",
            "--max-tokens", "96", "--context-tokens", "64", "--rank", "2", "--weights", str(checkpoint), "--json"]
    assert main(args) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["steps"] == 1 and facts["device"] == ("cuda" if torch.cuda.is_available() else "cpu") and facts["tensors"] == 14
    assert json.loads(out.with_suffix(".json").read_text())["examples"] == facts["examples"]
    header = read_header(out)
    assert (header.get("general.type"), header.get("adapter.type"), header.get("adapter.lora.alpha")) == ("adapter", "lora", 16.0)


def test_the_manifest_names_a_source_distribution_and_its_license(tmp_path):
    from quantize.tune.run import package_facts

    (tmp_path / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: inflection\nVersion: 0.5.1\nLicense: MIT\n"
                                       "Classifier: License :: OSI Approved :: MIT License\n\nlong text\n")
    assert package_facts(tmp_path) == {"package": "inflection==0.5.1", "license": "MIT"}
    (tmp_path / "PKG-INFO").write_text("Metadata-Version: 2.4\nName: toolz\nVersion: 1.2.0\nLicense-Expression: BSD-3-Clause\n")
    assert package_facts(tmp_path) == {"package": "toolz==1.2.0", "license": "BSD-3-Clause"}
    assert package_facts(tmp_path / "elsewhere") == {}
