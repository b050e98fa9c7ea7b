"""The llama.cpp calls under LlamaCppBackend: batched prefill, a C sampler chain, prompt-lookup
speculative decoding, the KV cache's bookkeeping with sliding-window checkpoints, and state files.

Why not ``Llama.eval`` / ``Llama.generate``: they fill every batch token by token in Python, keep
numpy copies of the tokens, and sample with the repeat penalty applied over the whole vocabulary
(262,144 entries for Gemma) before top-k. Measured on the GPU (tests/benchmarks/RESULTS.md) that
overhead cost a third of decode speed on a 31B model.

Sliding-window (SWA) layers with ``swa_full=False`` keep only their window of the KV cache, which
is what lets a 128K context fit a 24 GB card; but a prompt that diverges from the cached one
early then lacks the window before the divergence point. A checkpoint (the SWA layers' state,
``LLAMA_STATE_SEQ_FLAGS_SWA_ONLY``) taken where prompts diverge restores it, as llama-server does.
"""

from __future__ import annotations

import ctypes
import logging
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import llama_cpp
import numpy as np

from lsp_server.model import llama_internals
from lsp_server.model.backend import CancelToken
from lsp_server.model.prefix_plan import DraftSize, PromptLookup, common_prefix
from lsp_server.model.sampling import Sampler, Sampling

log = logging.getLogger(__name__)

SEQ = 0
SWA_ONLY = llama_cpp.LLAMA_STATE_SEQ_FLAGS_SWA_ONLY
Progress = Callable[[int, int], None]


MAX_DRAFT = 16
"""The most tokens prompt lookup guesses at once: a checking batch has up to MAX_DRAFT + 1 outputs."""


@dataclass
class Checkpoint:
    tokens: int
    """The KV cache held exactly this many prompt tokens when it was taken."""
    data: ctypes.Array
    text: bytes
    """Those tokens (packed): the window is restored only under the same text."""


def packed(tokens: list[int]) -> bytes:
    return array("i", tokens).tobytes()


class Engine:
    """One llama.cpp context, sequence 0, and what its KV cache holds (``tokens``)."""

    def __init__(self, llm, swa_full: bool, max_checkpoints: int, max_draft: int = MAX_DRAFT, backend_top_k: int = 0) -> None:
        self.llm = llm
        self.ctx = llama_internals.context(llm)
        self.vocab = llama_internals.vocab(llm)
        self.n_vocab = llama_cpp.llama_vocab_n_tokens(self.vocab)
        self.memory = llama_cpp.llama_get_memory(self.ctx)
        self.n_ctx = llm.n_ctx()
        self.n_batch = llm.n_batch
        self.n_swa = llama_cpp.llama_model_n_swa(llama_internals.model(llm))
        self.swa_pruned = self.n_swa > 0 and not swa_full
        self.max_checkpoints = max_checkpoints if self.swa_pruned else 0
        self.tokens: list[int] = []
        self.checkpoints: list[Checkpoint] = []
        self.stable = 0
        """Where the last two prompts parted: the end of the prefix worth keeping across restarts."""
        self._max_draft = max_draft
        self._batch = llama_cpp.llama_batch_init(max_draft + 1, 0, 1)
        for i in range(max_draft + 1):  # every slot of the speculative batch is sequence 0
            self._batch.n_seq_id[i] = 1
            self._batch.seq_id[i][0] = SEQ
            self._batch.logits[i] = 1
        self._top_k = backend_top_k
        self._top_k_chain = None
        self.use_top_k(True)

    def prepare_sampling(self, speculative: bool) -> None:
        """Call before the prefill whose last output is sampled: top-k in the graph (when the
        engine has it) unless this generation checks drafts: a context allows one output per
        sequence with a sampler in the graph (llama.cpp's default). Contexts allowing 17 were
        measured: their prefill ran 4-20 % slower on the H200 (tests/benchmarks/RESULTS.md)."""
        self.use_top_k(not speculative)

    def use_top_k(self, on: bool) -> None:
        """Let llama.cpp find the top k of each output inside the model's graph (on the GPU when
        it holds the output layer), if the engine was made with ``backend_top_k``: only k logits
        then come back to the host instead of the whole 262,144-entry row, and the rest of the
        chain runs in Python on those k. Switching costs one graph reservation."""
        if on == (self._top_k_chain is not None) or (on and self._top_k <= 0):
            return
        if self._top_k_chain is not None:
            llama_cpp.llama_set_sampler(self.ctx, SEQ, None)
            llama_cpp.llama_sampler_free(self._top_k_chain)  # a chain is set up in a graph once
            self._top_k_chain = None
        if not on:
            return
        chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
        llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_top_k(self._top_k))
        if llama_cpp.llama_set_sampler(self.ctx, SEQ, chain):
            self._top_k_chain = chain
            return
        log.warning("llama.cpp cannot run top-k in the model's graph here; sampling from the whole logits row")
        llama_cpp.llama_set_sampler(self.ctx, SEQ, None)
        llama_cpp.llama_sampler_free(chain)
        self._top_k = 0

    # -- the KV cache ----------------------------------------------------------------------

    def reuse(self, prompt: list[int]) -> int:
        """Make the cache hold the longest usable prefix of ``prompt`` (never all of it: the
        last token is evaluated again for fresh logits). Returns how many tokens it holds."""
        keep = common_prefix(self.tokens, prompt[:-1])
        if keep < len(self.tokens) and not llama_cpp.llama_memory_seq_rm(self.memory, SEQ, keep, -1):
            keep = 0
        if keep and self.swa_pruned and not self._window_intact(keep):
            keep = self._restore_checkpoint(keep)
        if keep == 0:
            llama_cpp.llama_memory_clear(self.memory, True)
        del self.tokens[keep:]
        return keep

    def _window_intact(self, n: int) -> bool:
        """Whether the SWA layers still hold the window that ends at position ``n``."""
        pos_min = llama_cpp.llama_memory_seq_pos_min(self.memory, SEQ)
        return 0 <= pos_min <= max(0, n - self.n_swa)

    def _restore_checkpoint(self, keep: int) -> int:
        # A checkpoint holds the window of the text it was taken on: one taken before the cache
        # was cut and refilled with another text at the same positions would bring back the
        # other text's window (self.tokens still holds the cached text here; its first keep
        # tokens are the new prompt's).
        usable = [c for c in self.checkpoints if 0 < c.tokens <= keep and c.text == packed(self.tokens[: c.tokens])]
        if not usable:
            log.debug("KV cache: the sliding window before token %d is gone and no checkpoint covers it", keep)
            return 0
        best = max(usable, key=lambda c: c.tokens)
        llama_cpp.llama_memory_seq_rm(self.memory, SEQ, best.tokens, -1)
        read = llama_cpp.llama_state_seq_set_data_ext(self.ctx, best.data, len(best.data), SEQ, SWA_ONLY)
        if read == 0 or not self._window_intact(best.tokens):
            log.warning("KV cache: restoring the checkpoint at token %d failed; prefilling from the start", best.tokens)
            self.checkpoints.remove(best)
            return 0
        self.checkpoints.remove(best)  # most recently used goes last
        self.checkpoints.append(best)
        return best.tokens

    def checkpoint(self) -> None:
        """Remember the SWA layers' state for the tokens the cache holds now."""
        n = len(self.tokens)
        if not self.max_checkpoints or n == 0:
            return
        text = packed(self.tokens)
        if any(c.tokens == n and c.text == text for c in self.checkpoints):
            return
        size = llama_cpp.llama_state_seq_get_size_ext(self.ctx, SEQ, SWA_ONLY)
        data = (ctypes.c_uint8 * size)()
        if llama_cpp.llama_state_seq_get_data_ext(self.ctx, data, size, SEQ, SWA_ONLY) != size:
            log.warning("KV cache: could not copy a checkpoint at token %d", n)
            return
        self.checkpoints.append(Checkpoint(n, data, text))
        del self.checkpoints[: -self.max_checkpoints]

    def keep_stable(self) -> None:
        """Drop what follows the stable prefix (the last question and answer)."""
        if 0 < self.stable < len(self.tokens):
            self.reuse(self.tokens[: self.stable + 1])

    def forget(self) -> None:
        llama_cpp.llama_memory_clear(self.memory, True)
        self.tokens.clear()
        self.checkpoints.clear()

    # -- prefill and decode ----------------------------------------------------------------

    def prefill(self, prompt: list[int], start: int, cancel: CancelToken, checkpoint_at: int = 0,
                on_progress: Progress | None = None) -> None:
        """Evaluate ``prompt[start:]`` in n_batch chunks (llama.cpp splits them into micro-batches),
        stopping at ``checkpoint_at`` to take a checkpoint there."""
        position, last = start, len(prompt) - 1
        while position < len(prompt):
            cancel.raise_if_cancelled()
            # The last token goes alone: the first answer token's logits then come from a
            # one-token batch, as they do when all the rest was cached, so a prompt gets the same
            # answer cold or warm (batches of different sizes round differently).
            end = min(position + self.n_batch, last) if position < last else len(prompt)
            if position < checkpoint_at < end:
                end = checkpoint_at
            self._decode(prompt[position:end])
            position = end
            if position == checkpoint_at:
                self.checkpoint()
            if on_progress is not None:
                on_progress(position, len(prompt))

    def _decode(self, chunk: list[int]) -> None:
        array = (llama_cpp.llama_token * len(chunk))(*chunk)
        status = llama_cpp.llama_decode(self.ctx, llama_cpp.llama_batch_get_one(array, len(chunk)))
        if status != 0:
            raise RuntimeError(f"llama_decode returned {status} at token {len(self.tokens)}")
        self.tokens.extend(chunk)

    def chooser(self, sampling: Sampling, native: bool) -> tuple[Callable[[int], int], Callable[[], None]]:
        """``choose(i)``: the next token from the logits of batch position i (-1: the last), and
        a function that frees what it holds. ``native``: llama.cpp's chain, else ours (``Sampler``, on
        the top k found in the graph when the engine was made with ``backend_top_k``)."""
        if native and self._top_k_chain is None:
            chain = self.sampler(sampling)
            return (lambda i: llama_cpp.llama_sampler_sample(chain, self.ctx, i)), (lambda: llama_cpp.llama_sampler_free(chain))
        sampler, n_vocab, ctx = Sampler(sampling, self.n_vocab), self.n_vocab, self.ctx
        if self._top_k_chain is None:
            logits_of = lambda i: np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(ctx, i), shape=(n_vocab,))  # noqa: E731
            return (lambda i: sampler.choose(logits_of(i))), (lambda: None)

        def choose_among_top_k(i: int) -> int:
            count = llama_cpp.llama_get_sampled_logits_count_ith(ctx, i)
            if count == 0:
                raise RuntimeError(f"llama.cpp returned no top-k candidates for output {i}")
            # slices of the C arrays: 40 Python numbers, cheaper than numpy views at this size
            ids = llama_cpp.llama_get_sampled_candidates_ith(ctx, i)[:count]
            values = llama_cpp.llama_get_sampled_logits_ith(ctx, i)[:count]
            return sampler.choose_among(ids, values)

        return choose_among_top_k, (lambda: None)

    def sampler(self, sampling: Sampling):
        """A C sampler chain. Top-k first so the repeat penalty touches 40 logits, not the
        whole vocabulary; temperature 0 is greedy."""
        chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
        add = lambda s: llama_cpp.llama_sampler_chain_add(chain, s)  # noqa: E731
        add(llama_cpp.llama_sampler_init_top_k(sampling.top_k))
        if sampling.repeat_penalty != 1.0:
            add(llama_cpp.llama_sampler_init_penalties(llama_cpp.llama_vocab_n_tokens(self.vocab), sampling.penalty_last_n,
                                                       sampling.repeat_penalty, 0.0, 0.0))
        if sampling.temperature <= 0:
            add(llama_cpp.llama_sampler_init_greedy())
        else:
            add(llama_cpp.llama_sampler_init_top_p(sampling.top_p, 1))
            add(llama_cpp.llama_sampler_init_min_p(sampling.min_p, 1))
            add(llama_cpp.llama_sampler_init_temp(sampling.temperature))
            add(llama_cpp.llama_sampler_init_dist(sampling.seed))
        return chain

    def _tokens(self, choose: Callable[[int], int], speculative: bool) -> Iterator[int]:
        """Sampled tokens, one at a time.

        With ``speculative`` the next tokens are guessed from earlier text (an edit copies most
        of its input) and checked in one batch; each guess is kept only where the model's own
        sample equals it, so the output is what plain decoding gives.
        """
        history = PromptLookup(self.tokens) if speculative else None
        size = DraftSize(self._max_draft)
        pending = [choose(-1)]
        while True:
            for token in pending:
                if history is not None:
                    history.append(token)
                yield token
            last = pending[-1]
            room = self.n_ctx - len(self.tokens) - 1
            if room <= 0:
                return
            draft = history.draft(min(size.size, room - 1)) if history is not None else []
            if draft:
                pending = self._verify(last, draft, choose)
                size.update(len(draft), len(pending) - 1)
            else:
                pending = self._step(last, choose)

    def _step(self, token: int, choose: Callable[[int], int]) -> list[int]:
        self._decode([token])
        return [choose(-1)]

    def _verify(self, token: int, draft: list[int], choose: Callable[[int], int]) -> list[int]:
        batch, base = self._batch, len(self.tokens)
        for i, tok in enumerate([token, *draft]):
            batch.token[i] = tok
            batch.pos[i] = base + i
        batch.n_tokens = len(draft) + 1
        status = llama_cpp.llama_decode(self.ctx, batch)
        if status != 0:
            raise RuntimeError(f"llama_decode returned {status} while checking a draft")
        self.tokens.extend([token, *draft])
        sampled = []
        for i in range(len(draft) + 1):
            sampled.append(choose(i))
            if i == len(draft) or sampled[-1] != draft[i]:
                break
        accepted = len(sampled) - 1  # draft tokens that stay in the cache
        drop_from = base + 1 + accepted
        if drop_from < len(self.tokens):
            llama_cpp.llama_memory_seq_rm(self.memory, SEQ, drop_from, -1)
            del self.tokens[drop_from:]
        return sampled

    def generate(self, sampling: Sampling, speculative: bool, native_sampler: bool = False) -> Iterator[int]:
        """Sampled tokens after a prefill; the generator frees its sampler when closed."""
        choose, free = self.chooser(sampling, native_sampler)
        try:
            yield from self._tokens(choose, speculative)
        finally:
            free()

    # -- state files -----------------------------------------------------------------------

    def save(self, path: Path) -> int:
        """Write the cache's state and tokens to ``path`` (atomically). Returns bytes written."""
        if not self.tokens:
            return 0
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        array = (llama_cpp.llama_token * len(self.tokens))(*self.tokens)
        written = llama_cpp.llama_state_seq_save_file(self.ctx, str(partial).encode(), SEQ, array, len(self.tokens))
        if written == 0:
            partial.unlink(missing_ok=True)
            return 0
        partial.replace(path)
        return written

    def load(self, path: Path) -> int:
        """Fill the cache from a state file written by ``save``. Returns the tokens restored."""
        capacity = self.n_ctx
        array = (llama_cpp.llama_token * capacity)()
        count = ctypes.c_size_t(0)
        self.forget()
        read = llama_cpp.llama_state_seq_load_file(self.ctx, str(path).encode(), SEQ, array, capacity, ctypes.byref(count))
        if read == 0 or count.value == 0:
            self.forget()
            return 0
        self.tokens = list(array[: count.value])
        self.checkpoint()
        return len(self.tokens)

    def close(self) -> None:
        self.use_top_k(False)
        if self._batch is not None:
            llama_cpp.llama_batch_free(self._batch)
            self._batch = None
