"""``gemma-quantize tune``, start to end: the training set, the training, the adapter and its
manifest (what it was trained on, how, and what it cost)."""

from __future__ import annotations

import dataclasses
import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from lsp_server.model.backend import GenerationRequest, Message
from lsp_server.model.gguf_header import read_header
from quantize.convert import GGUF_ARCHS
from quantize.errors import BadInput, OutputExists, UnsupportedArchitecture
from quantize.tune import dataset
from quantize.tune.train import TuneOptions


@dataclass(frozen=True)
class TuneJob:
    repos: tuple[Path, ...]
    base: Path
    """The GGUF the adapter is for (its tokenizer, names and shapes)."""
    out: Path
    weights: Path | None = None
    """A Hugging Face checkpoint folder of the same model, when transformers cannot read the GGUF."""
    context_tokens: int = 768
    force: bool = False
    dataset_only: bool = False
    """Write the examples (JSON lines) to ``out`` and what they came from to ``out``'s .json,
    instead of training."""
    examples: Path | None = None
    """Train on the examples an earlier ``dataset_only`` run wrote (instead of ``repos``): build
    the set once where it is cheap, train where the GPU is."""


def prompt_style(base: Path) -> tuple[str, str]:
    """(architecture, "chat" or "completion"): what the server's prompt_style "auto" picks for ``base``."""
    header = read_header(base)
    arch = header.get("general.architecture")
    if arch not in GGUF_ARCHS:
        raise UnsupportedArchitecture(f"{base.name} is a {arch!r} model; tune trains adapters of gemma3 and gemma4 models.")
    return arch, "chat" if header.get("tokenizer.chat_template") else "completion"


def tune(job: TuneJob, options: TuneOptions, progress: bool = True) -> dict:
    if bool(job.repos) == (job.examples is not None):
        raise BadInput("Give the repositories to learn from, or --examples FILE from a --dataset-only run (not both).")
    if job.out.exists() and not job.force:
        raise OutputExists(f"{job.out} exists: pass --force to overwrite it, or choose another name.")
    if not job.dataset_only:
        from quantize.tune import require_tune_extra

        require_tune_extra()  # before minutes of building a set it could not use
    arch, style = prompt_style(job.base)
    examples, summary = _read_examples(job.examples, style) if job.examples else _build_examples(job, style, progress)
    summary = {**summary, "base": str(job.base), "architecture": arch}
    if job.dataset_only:
        _write_examples(examples, job.out)
        job.out.with_suffix(".json").write_text(json.dumps(summary, indent=2) + "\n")
        return {**summary, "output": str(job.out), "text": f"Wrote {len(examples)} examples to {job.out}: {summary['examples']}"}
    from quantize.tune.export import export_peft
    from quantize.tune.train import tokenize_examples, train

    pairs = tokenize_examples(job.base, examples, options.max_tokens)
    result = train(job.base, pairs, job.weights, options, progress)
    exported = export_peft(result.model, job.base, job.out, options.alpha, job.force)
    facts = {**summary, "output": str(job.out), "bytes": exported.bytes, "tensors": exported.tensors,
             "options": dataclasses.asdict(options), "device": result.device, "trained_examples": result.examples,
             "examples_seen": min(result.steps * options.batch, result.examples * options.epochs),
             "steps": result.steps, "tokens": result.tokens, "seconds": round(result.seconds, 2),
             "steps_per_second": round(result.steps_per_second, 4), "peak_memory_mib": round(result.peak_memory_bytes / 2**20),
             # a step's loss is one batch's: the first and last ten steps' means say more
             "loss_first": round(statistics.fmean(result.losses[:10]), 4), "loss_last": round(statistics.fmean(result.losses[-10:]), 4)}
    job.out.with_suffix(".json").write_text(json.dumps(facts, indent=2) + "\n")
    text = (f"Wrote {job.out} ({exported.bytes / 2**20:.1f} MiB, rank {options.rank}, {exported.tensors} tensors) "
            f"from {_seen(facts['examples_seen'], result.examples)} {summary['examples']}: {result.steps} steps on {result.device} in "
            f"{result.seconds:.0f} s ({result.steps_per_second:.3f} steps/s), peak memory {facts['peak_memory_mib']} MiB, "
            f"loss {facts['loss_first']} -> {facts['loss_last']}.\nUse it: set model.lora_path to {job.out.resolve()}")
    return {**facts, "text": text}


def _seen(seen: int, examples: int) -> str:
    """How much of the set training saw: "700 of 3200 examples", or "1.05 passes over 3200 examples"."""
    return f"{seen} of {examples} examples" if seen <= examples else f"{seen / examples:.2f} passes over {examples} examples"


def _build_examples(job: TuneJob, style: str, progress: bool) -> tuple[list[dataset.Example], dict]:
    for repo in job.repos:
        if not repo.is_dir():
            raise BadInput(f"{repo} is not a folder: give the repositories to learn from.")
    started = time.perf_counter()
    examples, per_repo = [], {}
    for repo in job.repos:
        found = dataset.build_examples(repo.resolve(), style, job.context_tokens, _files_bar(progress))
        examples += found
        per_repo[str(repo)] = {**package_facts(repo), "examples": dataset.counts(found)}
    return examples, {"repos": per_repo, "prompt_style": style, "examples": dataset.counts(examples),
                      "dataset_seconds": round(time.perf_counter() - started, 1)}


def _read_examples(path: Path, style: str) -> tuple[list[dataset.Example], dict]:
    """The examples and the manifest a ``dataset_only`` run wrote."""
    manifest = path.with_suffix(".json")
    if not path.is_file() or not manifest.is_file():
        raise BadInput(f"{path} (and {manifest.name} beside it) are not there: write them with `tune REPO... {path.name} "
                       "--dataset-only`.")
    summary = json.loads(manifest.read_text())
    if summary.get("prompt_style") != style:
        raise BadInput(f"{path.name} holds {summary.get('prompt_style')} prompts, and this base is prompted as {style}: "
                       "build the examples again with this --base.")
    examples = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        request = row["request"]
        messages = tuple(Message(**m) for m in request.pop("messages"))
        examples.append(dataset.Example(row["task"], row["source"], GenerationRequest(messages=messages, **request), row["answer"]))
    summary = {key: summary[key] for key in ("repos", "prompt_style", "dataset_seconds") if key in summary}
    # the file's own count: a set may be cut down (fewer of one task) after it was written
    return examples, {**summary, "examples": dataset.counts(examples), "examples_file": path.name}


def package_facts(repo: Path) -> dict:
    """name==version and license of a source distribution (its PKG-INFO), for the manifest."""
    info = repo / "PKG-INFO"
    if not info.is_file():
        return {}
    from email.parser import Parser

    meta = Parser().parsestr(info.read_text(encoding="utf-8", errors="replace"), headersonly=True)
    classifiers = [c.rsplit("::", 1)[-1].strip() for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
    license_ = meta.get("License-Expression") or (meta.get("License") or "").splitlines()[0:1] or classifiers[:1]
    return {"package": f"{meta.get('Name')}=={meta.get('Version')}",
            "license": license_ if isinstance(license_, str) else "".join(license_)}


def _write_examples(examples: list[dataset.Example], out: Path) -> None:
    with out.open("w", encoding="utf-8") as handle:
        for e in examples:
            request = {"text": e.request.text, "messages": [dataclasses.asdict(m) for m in e.request.messages],
                       "answer_prefix": e.request.answer_prefix, "keep_head_tokens": e.request.keep_head_tokens}
            handle.write(json.dumps({"task": e.task, "source": e.source, "request": request, "answer": e.answer}) + "\n")


def _files_bar(shown: bool):
    from tqdm import tqdm

    bar = tqdm(desc="Building the training set", unit="file", disable=not shown)

    def update(done: int, total: int, what: str) -> None:
        bar.total = total
        bar.set_postfix_str(what[-40:])
        bar.update(done - bar.n)
        if done == total:
            bar.close()
    return update
