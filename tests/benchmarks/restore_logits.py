"""Is a restored prefix exact? First-token logits and KV cells, restored vs cold (bundled model, CPU).

    python -m tests.benchmarks.restore_logits [--json out.json]

The prompt and flow of tests/e2e/test_backend.py's checkpoint and restart tests (n_ctx 4096,
sliding-window layers keeping only their window). Five ways to reach the same prompt's first
answer token:

- cold: an empty cache, the whole prompt prefilled (llama.cpp splits it into 512-token ubatches
  from position 0);
- cold-split: an empty cache, the prompt prefilled in two batches parted where the shared prefix
  ends, as the prompt that took the checkpoint was (no restore involved);
- checkpoint: the prefix restored from the sliding-window checkpoint (the test's flow);
- state-file: the prefix saved to a state file, the cache cleared, the file loaded;
- cold-again: cold once more (run-to-run noise: expected 0);
- cold-split, window put back: cold-split, with the checkpoint restored right where it was taken
  (the same cells in the sliding-window cache, placed anew);
- wrong window: a restore that is not exact, for scale: the checkpoint of another text restored
  (the same positions; numbers changed in the last 3 lines of the shared text, or everywhere).

Each way is fed the cold answer's tokens after its prefill, so all see the same text. Prints, for
each against cold and against cold-split, on the first answer token and over 16: max |logit
difference| over the vocabulary, max |log-probability difference| among the 40 likeliest, KL
divergence, the steps whose greedy choice differs; for the KV cells of the shared prefix
(global and sliding-window layers, where both hold them) which positions differ and by how much;
and the order of the sliding-window cells after the prompt.
Not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import platform
import struct
import tempfile
from pathlib import Path

from lsp_server.model.native import preload_llama_libraries

preload_llama_libraries()

import llama_cpp
import numpy as np

from lsp_server.config import ModelSettings
from lsp_server.model.backend import CancelToken, GenerationRequest
from lsp_server.model.llama_backend import LlamaCppBackend
from lsp_server.model.llama_engine import SEQ, SWA_ONLY
from lsp_server.model.prefix_plan import common_prefix
from lsp_server.model.sampling import Sampler, Sampling
from tests.e2e.test_backend import SHARED, question

STEPS = 16
"""Answer tokens compared (the tests generate 16)."""


def logits(engine) -> np.ndarray:
    row = llama_cpp.llama_get_logits_ith(engine.ctx, -1)
    return np.ctypeslib.as_array(row, shape=(engine.n_vocab,)).astype(np.float64).copy()


def penalized(row: np.ndarray, recent, penalty: float = Sampling.repeat_penalty) -> np.ndarray:
    """The row as the greedy sampler ranks it (llama.cpp's repeat penalty on recent answer tokens)."""
    row = row.copy()
    for t in set(recent):
        row[t] = row[t] / penalty if row[t] > 0 else row[t] * penalty
    return row


def answer(engine, forced: list[int] | None) -> tuple[list[np.ndarray], list[int]]:
    """The logits of STEPS answer tokens after a prefill and the greedy sampler's choice at each;
    with ``forced``, those tokens are fed instead of the choices (so every way sees the same text)."""
    sampler = Sampler(Sampling(temperature=0.0), engine.n_vocab)
    rows, chosen = [], []
    for step in range(STEPS):
        rows.append(penalized(logits(engine), sampler.recent))
        chosen.append(sampler.choose(logits(engine)))
        fed = forced[step] if forced else chosen[-1]
        if forced:
            sampler.recent[-1] = fed
        engine._decode([fed])
    return rows, chosen


def kv_state(engine) -> bytes:
    size = llama_cpp.llama_state_seq_get_size_ext(engine.ctx, SEQ, 0)
    data = (ctypes.c_uint8 * size)()
    assert llama_cpp.llama_state_seq_get_data_ext(engine.ctx, data, size, SEQ, 0) == size
    return bytes(data)


F16 = 1


def parse_state(data: bytes) -> list[dict[int, tuple[list[np.ndarray], list[np.ndarray]]]]:
    """llama_state_seq_get_data's bytes (llama.cpp's llama_kv_cache::state_write, one per cache:
    the global layers', then the sliding-window layers') as, per cache, position -> (K rows, V rows)
    of every layer. F16 cache, V not transposed (flash attention), one stream."""
    offset = 8  # magic, seq_id
    caches = []

    def take(fmt: str):
        nonlocal offset
        values = struct.unpack_from(fmt, data, offset)
        offset += struct.calcsize(fmt)
        return values

    while offset < len(data):
        (n_stream,) = take("<I")
        assert n_stream == 1, n_stream
        (cells,) = take("<I")
        if cells == 0:
            caches.append({})
            continue
        positions = []
        for _ in range(cells):
            pos, n_seq = take("<iI")
            take(f"<{n_seq}i")
            positions.append(pos)
        v_trans, n_layer = take("<II")
        assert v_trans == 0, "V is transposed: run with flash attention"
        rows: dict[str, list[np.ndarray]] = {"k": [], "v": []}
        for kind in ("k", "v"):
            for _ in range(n_layer):
                type_i, row_size = take("<iQ")
                assert type_i == F16, type_i
                block = np.frombuffer(data, dtype=np.float16, count=cells * row_size // 2, offset=offset)
                offset += cells * row_size
                rows[kind].append(block.reshape(cells, row_size // 2).astype(np.float32))
        caches.append({pos: ([k[i] for k in rows["k"]], [v[i] for v in rows["v"]]) for i, pos in enumerate(positions)})
    return caches


def compare_kv(a: list[dict], b: list[dict], below: int) -> list[dict]:
    """Per cache: the prefix positions both hold, the max |difference| of K and V, the first
    position whose rows differ."""
    out = []
    for name, ca, cb in zip(("global layers", "sliding-window layers"), a, b):
        shared = sorted(p for p in ca.keys() & cb.keys() if p < below)
        dk = dv = big_k = big_v = 0.0
        differing = []
        for p in shared:
            k = max(float(np.max(np.abs(x - y))) for x, y in zip(ca[p][0], cb[p][0]))
            v = max(float(np.max(np.abs(x - y))) for x, y in zip(ca[p][1], cb[p][1]))
            if k or v:
                differing.append(p)
            dk, dv = max(dk, k), max(dv, v)
            big_k = max(big_k, *(float(np.max(np.abs(x))) for x in cb[p][0]))
            big_v = max(big_v, *(float(np.max(np.abs(x))) for x in cb[p][1]))
        out.append({"cache": name, "positions": f"{shared[0]}-{shared[-1]}" if shared else "none",
                    "max_abs_dk": dk, "max_abs_dv": dv, "max_abs_k": big_k, "max_abs_v": big_v,
                    "differing_positions": runs(differing) or "none"})
    return out


def top(row: np.ndarray, detokenize, n: int = 3) -> list[tuple[str, float]]:
    ids = np.argsort(row)[::-1][:n]
    return [(detokenize(int(i)), round(float(row[i]), 4)) for i in ids]


def margin(row: np.ndarray) -> float:
    best = np.sort(row)[-2:]
    return float(best[1] - best[0])


def log_softmax(row: np.ndarray) -> np.ndarray:
    shifted = row - row.max()
    return shifted - np.log(np.exp(shifted).sum())


def distance(row: np.ndarray, base: np.ndarray, k: int = 40) -> dict[str, float]:
    """How far ``row`` is from ``base``: max |logit difference| over the vocabulary, max |log-prob
    difference| over base's top k, max |probability difference|, and KL(base || row)."""
    lp, lb = log_softmax(row), log_softmax(base)
    top_k = np.argsort(base)[-k:]
    return {"max_abs_dlogit": float(np.max(np.abs(row - base))),
            "max_abs_dprob": float(np.max(np.abs(np.exp(lp) - np.exp(lb)))),
            "max_abs_dlogprob_top40": float(np.max(np.abs(lp[top_k] - lb[top_k]))),
            "kl": float(np.sum(np.exp(lb) * (lb - lp)))}


def runs(positions: list[int]) -> str:
    """Positions in cell order as ascending runs: "334-845, 0-333"."""
    out, begin = [], None
    for i, p in enumerate(positions):
        begin = p if begin is None else begin
        if i + 1 == len(positions) or positions[i + 1] != p + 1:
            out.append(f"{begin}-{p}")
            begin = None
    return ", ".join(out)


def swa_cells(engine) -> str:
    """The sliding-window layers' cells, in cell order, as the positions they hold."""
    size = llama_cpp.llama_state_seq_get_size_ext(engine.ctx, SEQ, SWA_ONLY)
    data = (ctypes.c_uint8 * size)()
    assert llama_cpp.llama_state_seq_get_data_ext(engine.ctx, data, size, SEQ, SWA_ONLY) == size
    (cache,) = parse_state(bytes(data))
    return runs(list(cache))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--question", type=int, default=3, help="question(n) of test_backend.py to answer")
    parser.add_argument("--json", help="write the numbers here too")
    args = parser.parse_args()

    backend = LlamaCppBackend(ModelSettings(n_ctx=4096, temperature=0.0, swa_full=False, keep_kv_state=False))
    backend.load()
    engine, cancel = backend._engine, CancelToken()
    tokens_of = lambda n: backend.prompt_tokens(GenerationRequest(text=SHARED + question(n)))
    prompt, q1, q2 = tokens_of(args.question), tokens_of(1), tokens_of(2)
    parts_at = common_prefix(q2, prompt[:-1])
    detok = lambda t: backend._llm.detokenize([t]).decode("utf-8", "replace")

    last3 = "".join(SHARED.splitlines(keepends=True)[-9:])
    rows, chosen, states, layout = {}, {}, {}, {}
    reference: list[int] = []

    def record(name: str) -> None:
        """The answer's logits along the reference text, the sliding-window cells after the
        prompt, then the KV cells of the shared prefix."""
        layout[name] = swa_cells(engine)
        rows[name], chosen[name] = answer(engine, reference or None)
        if not reference:
            reference.extend(chosen[name])
        llama_cpp.llama_memory_seq_rm(engine.memory, SEQ, parts_at, -1)
        states[name] = parse_state(kv_state(engine))

    def restored_from_checkpoint(replace=None) -> None:
        engine.forget()
        backend._prefill(q1, cancel)
        backend._prefill(q2, cancel)  # parts from q1 at parts_at: a checkpoint there
        if replace is not None:
            engine.checkpoints[-1].data = replace
        reused = backend._prefill(prompt, cancel)
        assert reused == parts_at, (reused, parts_at)

    engine.forget()
    engine.prefill(prompt, 0, cancel)
    record("cold")

    engine.forget()
    engine.prefill(prompt, 0, cancel, checkpoint_at=parts_at)
    record("cold-split")

    restored_from_checkpoint()
    record("checkpoint")

    engine.forget()
    backend._prefill(q1, cancel)
    backend._prefill(q2, cancel)
    engine.keep_stable()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "prefix.kvstate"
        engine.save(path)
        engine.forget()
        restored = engine.load(path)
    reused = backend._prefill(prompt, cancel)
    assert restored == parts_at and reused == parts_at, (restored, reused, parts_at)
    record("state-file")

    engine.forget()
    engine.prefill(prompt, 0, cancel)
    record("cold-again")

    # The same checkpoint put back at once where it was taken: the same cells, placed anew.
    def put_back() -> None:
        take()
        data = engine.checkpoints[-1].data
        assert llama_cpp.llama_state_seq_set_data_ext(engine.ctx, data, len(data), SEQ, SWA_ONLY) == len(data)

    engine.forget()
    take, engine.checkpoint = engine.checkpoint, put_back
    engine.prefill(prompt, 0, cancel, checkpoint_at=parts_at)
    del engine.checkpoint
    record("cold-split, window put back")

    # What a restore that is not exact looks like: the right global layers, and a window from
    # another text (the same positions; the shared text with other numbers in its last lines or
    # in all of them).
    for name, changed in (("wrong window (last 3 lines)", lambda text: text[: -len(last3)] + last3.replace("value * 3", "value * 4")),
                          ("wrong window (all numbers)", lambda text: text.translate(str.maketrans("0123456789", "1234567890")))):
        other = backend.prompt_tokens(GenerationRequest(text=changed(SHARED) + question(1)))
        assert len(other) == len(q1) and other[:parts_at] != q1[:parts_at], name
        engine.forget()
        engine.prefill(other[: parts_at + 1], 0, cancel, checkpoint_at=parts_at)
        wrong = engine.checkpoints[-1].data
        restored_from_checkpoint(replace=wrong)
        record(name)

    cpuinfo = Path("/proc/cpuinfo").read_text()
    flags = " ".join(f for f in ("avx2", "avx512f", "avx512bw", "avx512vnni", "avx512_bf16", "amx_tile") if f in cpuinfo.split())
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")), platform.processor())
    system = llama_cpp.llama_print_system_info().decode().strip()
    print(f"CPU: {model} ({flags})\nllama.cpp: {system}")
    print(f"prompt: {len(prompt)} tokens, shared prefix {parts_at} tokens; {STEPS} answer tokens compared, each way fed the cold answer")
    print(f"cold answer: {backend_text(detok, reference)!r}\n")
    report = {"cpu": model, "flags": flags, "llama_cpp": system, "prompt_tokens": len(prompt), "shared_prefix": parts_at,
              "reference": backend_text(detok, reference), "ways": {}}
    for name, own_rows in rows.items():
        margins = [margin(r) for r in own_rows]
        entry = {"greedy_choices": backend_text(detok, chosen[name]), "first_token_top": top(own_rows[0], detok),
                 "margins": [round(m, 4) for m in margins], "sliding_window_cells": layout[name]}
        print(f"{name}: first token {entry['first_token_top']}, top-2 margin {margins[0]:.4f}; smallest margin "
              f"{min(margins):.4f} (step {margins.index(min(margins))}); sliding-window cells after the prompt: {layout[name]}")
        for base in ("cold", "cold-split", "checkpoint"):
            if base == name or (base == "checkpoint" and name in ("cold", "cold-split", "cold-again")):
                continue
            steps = [distance(a, b) for a, b in zip(own_rows, rows[base])]
            flips = [i for i, (a, b) in enumerate(zip(chosen[name], chosen[base])) if a != b]
            kv = compare_kv(states[name], states[base], parts_at)
            entry[f"vs_{base}"] = {"first_token": steps[0], "all_steps": {key: max(s[key] for s in steps) for key in steps[0]},
                                   "steps_choosing_another_token": flips, "kv": kv}
            first, every = steps[0], entry[f"vs_{base}"]["all_steps"]
            print(f"  vs {base:10s} first token: max |dlogit| {first['max_abs_dlogit']:.4f}, max |dlogprob| top-40 "
                  f"{first['max_abs_dlogprob_top40']:.4f}, max |dp| {first['max_abs_dprob']:.4f}, KL {first['kl']:.2e};  "
                  f"{STEPS} steps: {every['max_abs_dlogit']:.4f}, {every['max_abs_dlogprob_top40']:.4f}, "
                  f"{every['max_abs_dprob']:.4f}, {every['kl']:.2e}")
            for i in flips:
                print(f"{'':16s}step {i} chooses another token: {top(own_rows[i], detok, 2)} here, {top(rows[base][i], detok, 2)} "
                      f"there (penalized logits)")
            for c in kv:
                print(f"{'':16s}prefix KV, {c['cache']} (positions {c['positions']}): {c['differing_positions']} positions differ, "
                      f"max |dK| {c['max_abs_dk']:.4g} (|K| up to {c['max_abs_k']:.4g}), max |dV| {c['max_abs_dv']:.4g} "
                      f"(|V| up to {c['max_abs_v']:.4g})")
        report["ways"][name] = entry
    backend.close()
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))


def backend_text(detok, tokens: list[int]) -> str:
    return "".join(detok(t) for t in tokens)


if __name__ == "__main__":
    main()
