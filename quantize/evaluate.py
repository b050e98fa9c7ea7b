"""`gemma-quantize eval`: how far a quantized model's next-token distributions drift from its
source's on the user's own code. KL divergence (mean nats per token, base || quant), perplexity
of both, and how often their top token agrees."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from quantize.errors import BadInput

SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", "build", "dist", ".tox", "site-packages"}


def log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


ROWS_AT_ONCE = 16
"""Rows of 262,144 logits are worked on in float64 this many at a time (32 MiB per array)."""


def kl_per_token(base_logits: np.ndarray, quant_logits: np.ndarray) -> np.ndarray:
    """KL(P_base || P_quant) in nats at each position (rows are positions)."""
    out = np.empty(len(base_logits))
    for i in range(0, len(base_logits), ROWS_AT_ONCE):
        p_log = log_softmax(base_logits[i:i + ROWS_AT_ONCE].astype(np.float64))
        q_log = log_softmax(quant_logits[i:i + ROWS_AT_ONCE].astype(np.float64))
        out[i:i + ROWS_AT_ONCE] = (np.exp(p_log) * (p_log - q_log)).sum(axis=-1)
    return out


def nll_per_token(logits: np.ndarray, tokens: np.ndarray) -> np.ndarray:
    """Negative log-likelihood of tokens[1:] given the logits at positions [:-1]."""
    out = np.empty(len(tokens) - 1)
    for i in range(0, len(tokens) - 1, ROWS_AT_ONCE):
        rows = log_softmax(logits[i:min(i + ROWS_AT_ONCE, len(tokens) - 1)].astype(np.float64))
        out[i:i + len(rows)] = -rows[np.arange(len(rows)), tokens[i + 1:i + 1 + len(rows)]]
    return out


def chunks(tokens: list[int], n_ctx: int, max_chunks: int) -> list[list[int]]:
    """Consecutive windows of n_ctx tokens (a shorter last one dropped: too little context)."""
    full = [tokens[i:i + n_ctx] for i in range(0, len(tokens) - n_ctx + 1, n_ctx)]
    return full[:max_chunks]


def code_files(workspace: Path, limit_bytes: int = 2_000_000) -> list[Path]:
    """The workspace's Python files (git's list when it is a repository), up to limit_bytes."""
    if not workspace.is_dir():
        raise BadInput(f"{workspace} is not a folder: pass --on WORKSPACE_FOLDER.")
    files = _git_files(workspace) or sorted(
        p for p in workspace.rglob("*.py") if not SKIP_DIRS.intersection(p.relative_to(workspace).parts))
    picked, total = [], 0
    for path in files:
        total += path.stat().st_size
        if total > limit_bytes:
            break
        picked.append(path)
    if not picked:
        raise BadInput(f"No Python files under {workspace}: point --on at a code workspace.")
    return picked


def _git_files(workspace: Path) -> list[Path]:
    try:
        out = subprocess.run(["git", "-C", str(workspace), "ls-files", "--", "*.py"], capture_output=True,
                             text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [workspace / line for line in out.splitlines() if (workspace / line).is_file()]


@dataclass(frozen=True)
class EvalResult:
    base: str
    quant: str
    n_tokens: int
    n_chunks: int
    kl_mean: float
    kl_p99: float
    ppl_base: float
    ppl_quant: float
    top1_agreement: float
    files: int


def summarize(base: str, quant: str, kls: list[np.ndarray], nll_b: list[np.ndarray], nll_q: list[np.ndarray],
              agree: list[np.ndarray], files: int) -> EvalResult:
    kl, nb, nq, same = (np.concatenate(x) for x in (kls, nll_b, nll_q, agree))
    return EvalResult(base, quant, int(kl.size), len(kls), float(kl.mean()), float(np.percentile(kl, 99)),
                      float(np.exp(nb.mean())), float(np.exp(nq.mean())), float(same.mean()), files)


def evaluate(base: Path, quant: Path, workspace: Path, *, n_ctx: int = 256, max_chunks: int = 8,
             threads: int | None = None, progress=None) -> EvalResult:
    """Run both models over the same chunks of the workspace's code and compare their logits."""
    files = code_files(workspace)
    text = "\n\n".join(p.read_text(encoding="utf-8", errors="replace") for p in files)
    base_model, quant_model = _load(base, n_ctx, threads), _load(quant, n_ctx, threads)
    try:
        tokens = base_model.tokenize(text.encode("utf-8"), add_bos=False)
        # Gemma goes astray without its BOS token: every chunk starts with one.
        parts = [[base_model.token_bos(), *part] for part in chunks(tokens, n_ctx - 1, max_chunks)]
        if not parts:
            raise BadInput(f"The code under {workspace} is shorter than one {n_ctx}-token chunk: lower --ctx.")
        kls, nb, nq, agree = [], [], [], []
        for i, part in enumerate(parts, 1):
            lb, lq = _logits(base_model, part), _logits(quant_model, part)
            kls.append(kl_per_token(lb, lq))
            nb.append(nll_per_token(lb, np.array(part)))
            nq.append(nll_per_token(lq, np.array(part)))
            agree.append(lb.argmax(axis=-1) == lq.argmax(axis=-1))
            if progress:
                progress(i, len(parts), f"chunk {i}")
    finally:
        base_model.close()
        quant_model.close()
    return summarize(str(base), str(quant), kls, nb, nq, agree, len(files))


def _load(path: Path, n_ctx: int, threads: int | None):
    import llama_cpp

    if not path.is_file():
        raise BadInput(f"{path} does not exist. Give the paths of two GGUF files.")
    return llama_cpp.Llama(str(path), n_ctx=n_ctx, n_batch=n_ctx, logits_all=True, n_threads=threads,
                           verbose=False)


def _logits(model, tokens: list[int]) -> np.ndarray:
    model.reset()
    model.eval(tokens)
    return np.array(model.scores[: len(tokens)], dtype=np.float32)
