"""Training a LoRA adapter with PyTorch, PEFT and transformers (the ``[tune]`` extra).

Prompts are tokenized by llama.cpp from the base GGUF, by the function the server prompts with
(``request_tokens``), so training sees the tokens inference sees. The weights come from a
Hugging Face checkpoint folder, or from the GGUF itself (transformers dequantizes gemma3 and
gemma4 GGUFs). Only the answer's tokens are in the loss. On CUDA when there is one, else CPU.
"""

from __future__ import annotations

import random
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from lsp_server.model.fit import fit_tokens
from quantize.errors import BadInput
from quantize.tune import require_tune_extra
from quantize.tune.dataset import Example

TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
END_OF_ANSWER = {"gemma3": "<end_of_turn>", "gemma4": "<turn|>"}
"""What ends a chat answer (completion answers end with the action's stop, in the text)."""


@dataclass(frozen=True)
class TuneOptions:
    rank: int = 8
    alpha: float = 16.0
    epochs: int = 1
    learning_rate: float = 2e-4
    max_tokens: int = 1024
    """Prompt and answer together; a longer prompt loses its middle (as the server cuts it)."""
    batch: int = 4
    """Examples per optimizer step (one forward pass, padded)."""
    seed: int = 0
    device: str = ""
    """"" : cuda when available, else cpu."""
    max_steps: int = 0
    """Stop after this many optimizer steps (0: all epochs)."""
    max_minutes: float = 0.0
    """Stop after the step that passes this much training time (0: no limit)."""


@dataclass
class TrainResult:
    model: object
    """The PEFT model, for export."""
    device: str
    examples: int
    steps: int
    seconds: float
    tokens: int
    losses: list[float] = field(default_factory=list)
    peak_memory_bytes: int = 0
    """Peak GPU memory on CUDA, else the process's peak resident memory."""

    @property
    def steps_per_second(self) -> float:
        return self.steps / self.seconds if self.seconds else 0.0


class Tokenized(NamedTuple):
    prompt: list[int]
    answer: list[int]
    task: str


def tokenize_examples(base_gguf: Path, examples: list[Example], max_tokens: int) -> list[Tokenized]:
    """Each example's prompt and answer ids, with llama.cpp's tokenizer of the base GGUF (an
    example whose answer is over half of ``max_tokens`` is left out)."""
    import llama_cpp

    from lsp_server.model.prompt_tokens import request_tokens

    vocab = llama_cpp.Llama(str(base_gguf), vocab_only=True, verbose=False)
    end = END_OF_ANSWER.get(vocab.metadata.get("general.architecture", ""), "")
    pairs = []
    for example in examples:
        prompt = request_tokens(vocab, example.request)
        answer_text = example.answer + (end if example.request.text is None else "")
        answer = vocab.tokenize(answer_text.encode("utf-8"), add_bos=False, special=True)
        if not answer or len(answer) > max_tokens // 2:
            continue  # an answer longer than the server would let the model write
        prompt, _ = fit_tokens(prompt, max_tokens - len(answer), example.request.keep_head_tokens)
        pairs.append(Tokenized(prompt, answer, example.task))
    vocab.close()
    return pairs


def load_model(base_gguf: Path, weights: Path | None, device: str):
    """The base model in PyTorch: from the checkpoint folder ``weights``, else from the GGUF."""
    torch, transformers, _ = require_tune_extra()
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    # eager attention: Gemma's recommendation for training; local_files_only: a path, never a download
    options = {"dtype": dtype, "attn_implementation": "eager", "local_files_only": True}
    try:
        if weights is not None:
            model = transformers.AutoModelForCausalLM.from_pretrained(str(weights), **options)
        else:
            if hasattr(transformers, "GgufConfig"):  # dense weights: LoRA trains on plain Linear layers, at full speed
                options["quantization_config"] = transformers.GgufConfig(dequantize=True)
            model = transformers.AutoModelForCausalLM.from_pretrained(str(base_gguf.parent), gguf_file=base_gguf.name, **options)
    except Exception as exc:  # transformers' GGUF and config readers raise many kinds for a layout they lack
        if weights is not None:
            raise BadInput(f"transformers could not load the checkpoint {weights} ({exc}).") from exc
        raise BadInput(f"transformers could not load the base model from {base_gguf.name} ({type(exc).__name__}: "
                       f"{str(exc)[:300]}). Give its Hugging Face checkpoint folder with --weights (the GGUF is still "
                       "used for tokens and names); transformers does not read Gemma 4 E2B/E4B GGUFs.") from exc
    return model.to(device)


def train(base_gguf: Path, pairs: list[Tokenized], weights: Path | None, options: TuneOptions,
          progress: bool = True) -> TrainResult:
    torch, _, peft = require_tune_extra()
    if not pairs:
        raise BadInput("The training set is empty: the repository gave no example (functions with docstrings, "
                       "bodies, or tests that call them).")
    device = options.device or ("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(options.seed)
    model = load_model(base_gguf, weights, device)
    config = peft.LoraConfig(r=options.rank, lora_alpha=options.alpha, lora_dropout=0.0, bias="none",
                             target_modules=list(TARGET_MODULES), task_type="CAUSAL_LM")
    model = peft.get_peft_model(model, config)
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=options.learning_rate)
    shuffle = random.Random(options.seed)
    order = [i for _ in range(options.epochs) for i in shuffle.sample(range(len(pairs)), len(pairs))]
    batches = [order[i:i + options.batch] for i in range(0, len(order), options.batch)]
    if options.max_steps:
        batches = batches[:options.max_steps]
    result = TrainResult(model, device, len(pairs), 0, 0.0, 0)
    started = time.perf_counter()
    bar = _bar(len(batches), progress)
    for batch in batches:
        if options.max_minutes and time.perf_counter() - started > options.max_minutes * 60:
            break
        loss = _batch_loss(torch, model, [pairs[i] for i in batch], device, result)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        result.steps += 1
        result.losses.append(loss)
        bar.set_postfix(loss=f"{loss:.3f}")
        bar.update(1)
    bar.close()
    result.seconds = time.perf_counter() - started
    result.peak_memory_bytes = (torch.cuda.max_memory_allocated() if device == "cuda"
                                else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    model.eval()
    return result


def _batch_loss(torch, model, batch: list[Tokenized], device: str, result: TrainResult) -> float:
    """The mean over the batch of each answer's mean cross-entropy, its gradients computed, in one
    forward pass.

    The sequences are padded on the left (positions still count from each one's first token), so
    every answer ends at the last position and only the last positions get logits: Gemma's
    262K-token output layer is most of a small model's compute, and the prompt's logits would be
    thrown away anyway."""
    width = max(len(p.prompt) + len(p.answer) for p in batch)
    keep = max(len(p.answer) for p in batch) + 1
    ids = torch.zeros((len(batch), width), dtype=torch.long)
    mask, positions = torch.zeros_like(ids), torch.zeros_like(ids)
    targets = torch.full((len(batch), keep - 1), -100, dtype=torch.long)
    for row, (prompt, answer, _) in enumerate(batch):
        length = len(prompt) + len(answer)
        ids[row, width - length:] = torch.tensor(prompt + answer)
        mask[row, width - length:] = 1
        positions[row, width - length:] = torch.arange(length)
        targets[row, keep - 1 - len(answer):] = torch.tensor(answer)
    out = model(input_ids=ids.to(device), attention_mask=mask.to(device), position_ids=positions.to(device),
                logits_to_keep=keep)
    logits = out.logits[:, :-1].float()
    targets = targets.to(device)
    per_token = torch.nn.functional.cross_entropy(logits.transpose(1, 2), targets, ignore_index=-100, reduction="none")
    loss = (per_token.sum(1) / (targets != -100).sum(1)).mean()
    loss.backward()
    result.tokens += int(mask.sum())
    return loss.item()


def _bar(total: int, shown: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc="Training", unit="step", disable=not shown)
