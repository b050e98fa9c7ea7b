"""The in-process backend: a GGUF run by llama.cpp through llama-cpp-python.

One model object, one lock, one worker thread. Prefill runs batch by batch and decode token by
token, with the cancel token checked in between; llama.cpp's abort callback also stops a batch
that is being computed, so a cancelled request frees the worker at once.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import logging
import os
import threading
import time
from concurrent.futures import Future
from pathlib import Path

from lsp_server.config import ModelSettings
from lsp_server.errors import GenerationCancelled, GenerationFailed, ModelLoadFailed
from lsp_server.model.adapters import AdapterFacts, adapter_paths, check_adapters
from lsp_server.model.backend import PLAIN, CancelToken, Generation, GenerationRequest, ModelInfo, OnText, RunOptions
from lsp_server.model.chat import channel_token_ids
from lsp_server.model.fit import answer_budget, fit_tokens
from lsp_server.model.load import check_fits_memory, load_with_gpu_fallback
from lsp_server.model.prefix_plan import common_prefix
from lsp_server.model.prompt_tokens import request_tokens, shared_until
from lsp_server.model.resolve import ResolvedModel, cache_dir, resolve_model
from lsp_server.model.text_stream import TextStream
from lsp_server.model.thinking import ThoughtRouter, TokenBudget, model_thinks, split_thought
from lsp_server.model.worker import ModelWorker

log = logging.getLogger(__name__)


def state_dir() -> Path:
    return cache_dir() / "kv-state"


KV_TYPES = {"f16": 1, "q4_0": 2, "q8_0": 8}
"""GGML type ids of the KV cache types offered in the settings."""


_LLAMA_CPP_LOG = logging.getLogger("llama.cpp")
_log_callback = None
"""The ctypes callback handed to llama.cpp, kept alive for as long as the library may call it."""


def _route_llama_cpp_logs() -> None:
    """Send llama.cpp's own messages to the debug log instead of stderr.

    llama-cpp-python prints llama.cpp's error-level lines to stderr, which editors show as errors:
    loading a Gemma GGUF logs "control-looking token ... probably a bug in the model" for its
    control tokens, which is harmless. A load that really fails raises, with our own message.
    """
    global _log_callback
    if _log_callback is not None:
        return
    import llama_cpp

    @llama_cpp.llama_log_callback
    def callback(level: int, text: bytes, user_data) -> None:
        line = text.decode("utf-8", "replace").rstrip("\n")
        if line:
            _LLAMA_CPP_LOG.debug("%s", line)

    _log_callback = callback
    llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))


def gpu_offload_supported() -> bool:
    import llama_cpp

    return bool(llama_cpp.llama_supports_gpu_offload())


def top_k_on_gpu(sampler: str, n_gpu_layers: int) -> bool:
    """Whether llama.cpp finds the top k logits inside the model's graph (``model.sampler``)."""
    if sampler == "gpu-top-k":
        return True
    return sampler == "auto" and n_gpu_layers != 0 and gpu_offload_supported()


def llama_kwargs(settings: ModelSettings, gpu_supported: bool, cpu_count: int) -> dict:
    """Keyword arguments for ``llama_cpp.Llama`` from the settings (pure, unit-tested)."""
    n_gpu_layers = settings.n_gpu_layers
    if n_gpu_layers < 0:
        n_gpu_layers = -1 if gpu_supported else 0
    kv_type = KV_TYPES[settings.kv_cache_type]
    # A quantized V cache needs flash attention; K alone can be quantized without it.
    v_type = kv_type if settings.flash_attn else KV_TYPES["f16"]
    threads = settings.n_threads or cpu_count
    return {
        "n_ctx": settings.n_ctx,
        "n_gpu_layers": n_gpu_layers,
        "flash_attn": settings.flash_attn,
        "n_batch": settings.n_batch,
        "n_ubatch": min(settings.n_batch, settings.n_ubatch),
        "swa_full": settings.swa_full,
        "type_k": kv_type,
        "type_v": v_type,
        "n_threads": threads,
        "n_threads_batch": threads,
        "verbose": False,  # stdout is the protocol in serve mode
    }


SHARED_CHECK_FROM = 2048  # finding where a request's shared part ends pays before a longer prefill


class LlamaCppBackend:
    def __init__(self, settings: ModelSettings, resolved: ResolvedModel | None = None) -> None:
        self.settings = settings
        self._resolved = resolved
        self._llm = None
        self._info: ModelInfo | None = None
        self._lock = threading.Lock()
        self._worker = ModelWorker("gemma-model")
        self._engine = None
        self._markup: frozenset[int] = frozenset()
        self._adapters: list[AdapterFacts] = []
        # Exact counts of context items, and the tokens of a file's shared part, remembered: each
        # request repeats most of the last one's, and 100K tokens take over a second to tokenize.
        self._counted = functools.lru_cache(maxsize=8192)(self._count_now)
        self._shared_tokens = functools.lru_cache(maxsize=4)(lambda shorter: request_tokens(self._llm, shorter))

    # -- loading -------------------------------------------------------------------------------

    def load(self) -> ModelInfo:
        if self._info is not None:  # no lock: a running generation must not block this
            return self._info
        with self._lock:
            return self._load_locked()

    @property
    def loaded(self) -> bool:
        return self._info is not None

    def _load_locked(self) -> ModelInfo:
        if self._info is not None:
            return self._info
        from llama_cpp import Llama

        from lsp_server.model import llama_internals  # refuses a llama-cpp-python it was not tested with

        llama_internals.never_redirect_stdout()
        _route_llama_cpp_logs()
        resolved = self._resolved or resolve_model(self.settings.path)
        kwargs = llama_kwargs(self.settings, gpu_offload_supported(), os.cpu_count() or 1)
        log.info("Loading %s (%s) with n_ctx=%d n_gpu_layers=%d", resolved.path, resolved.source, kwargs["n_ctx"], kwargs["n_gpu_layers"])
        check_fits_memory(resolved.path, kwargs["n_gpu_layers"])
        bundled = resolved.source == "bundled"
        adapters = check_adapters(adapter_paths(self.settings.lora_path, bundled), resolved.path)  # before a long load
        construct = lambda layers: Llama(model_path=str(resolved.path), **{**kwargs, "n_gpu_layers": layers})
        self._llm, kwargs["n_gpu_layers"] = load_with_gpu_fallback(construct, kwargs["n_gpu_layers"], resolved.path)
        self._attach(adapters)
        self._install_abort_callback()
        from lsp_server.model.llama_engine import Engine  # llama_cpp loads its libraries on import
        from lsp_server.model.sampling import Sampling

        top_k = Sampling.top_k if top_k_on_gpu(self.settings.sampler, kwargs["n_gpu_layers"]) else 0
        self._engine = Engine(self._llm, kwargs["swa_full"], self.settings.swa_checkpoints, backend_top_k=top_k)
        self._info = self._describe(resolved, kwargs)
        self._markup = channel_token_ids(lambda text: self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))
        self._restore_state()
        return self._info

    def _attach(self, adapters: list[AdapterFacts]) -> None:
        if not adapters:
            return
        from lsp_server.model import llama_internals

        try:
            llama_internals.attach_lora(self._llm, [str(a.path) for a in adapters])
        except RuntimeError as exc:
            self._llm.close()
            self._llm = None
            raise ModelLoadFailed(f"{exc}. Check that it is a GGUF LoRA adapter of this model, or set model.lora_path to \"none\".") from exc
        self._adapters = adapters
        log.info("Applied the LoRA adapters %s", ", ".join(str(a.path) for a in adapters))

    # -- the KV state across restarts ----------------------------------------------------------

    def _state_path(self) -> Path:
        """One state file per model file and cache layout (a different n_ctx or KV type cannot
        load another's state)."""
        info, model = self._info, Path(self._info.path)
        stat = model.stat()
        adapters = [(str(a.path.resolve()), a.path.stat().st_mtime_ns) for a in self._adapters]  # they change the KV values
        key = repr((str(model.resolve()), stat.st_size, stat.st_mtime_ns, info.n_ctx, self.settings.kv_cache_type,
                    self.settings.swa_full, self.settings.flash_attn, *adapters))
        return state_dir() / f"{model.stem}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.kvstate"

    def _restore_state(self) -> None:
        path = self._state_path() if self.settings.keep_kv_state else None
        if path is None or not path.is_file():
            return
        started = time.perf_counter()
        try:
            restored = self._engine.load(path)
        except Exception as exc:  # a state file is only a cache: never fail a load over it
            log.warning("Could not restore the KV state from %s: %s", path, exc)
            restored = 0
        seconds = time.perf_counter() - started
        self._info.extra.update({"restored_tokens": restored, "restore_seconds": round(seconds, 3)})
        if restored:
            log.info("Restored the KV cache of a %d-token prompt prefix from %s in %.2f s", restored, path, seconds)
        else:
            log.warning("The KV state file %s did not fit this model or context; removed it", path)
            path.unlink(missing_ok=True)

    def _save_state(self) -> None:
        if not self.settings.keep_kv_state or self._engine is None or not self._engine.tokens:
            return
        started = time.perf_counter()
        try:
            self._engine.keep_stable()
            written = self._engine.save(self._state_path())
        except Exception as exc:
            log.warning("Could not save the KV state: %s", exc)
            return
        log.info("Saved the KV cache of %d prompt tokens (%d bytes) in %.2f s", len(self._engine.tokens), written,
                 time.perf_counter() - started)

    def _describe(self, resolved: ResolvedModel, kwargs: dict) -> ModelInfo:
        meta = self._llm.metadata
        arch = meta.get("general.architecture", "unknown")
        has_template = bool(meta.get("tokenizer.chat_template"))
        style = self.settings.prompt_style
        if style == "auto":
            style = "chat" if has_template else "completion"
        return ModelInfo(
            path=str(resolved.path),
            source=resolved.source,
            architecture=arch,
            name=meta.get("general.name", Path(resolved.path).stem),
            n_ctx=self._llm.n_ctx(),
            n_ctx_train=int(meta.get(f"{arch}.context_length", 0) or 0),
            n_gpu_layers=kwargs["n_gpu_layers"],
            gpu_offload_supported=gpu_offload_supported(),
            has_chat_template=has_template,
            prompt_style=style,
            supports_thinking=model_thinks(arch, meta.get("tokenizer.chat_template")),
            size_bytes=Path(resolved.path).stat().st_size,
            extra={"flash_attn": kwargs["flash_attn"], "n_batch": kwargs["n_batch"], "threads": kwargs["n_threads"],
                   "lora": [a.describe() for a in self._adapters]},
        )

    def _install_abort_callback(self) -> None:
        """Let llama.cpp stop a running batch when the active request is cancelled."""
        from lsp_server.model import llama_internals

        def should_abort(_data) -> bool:
            cancel = self._worker.active
            return bool(cancel is not None and cancel.cancelled)

        self._set_abort = llama_internals.abort_switch(self._llm, should_abort)

    # -- tokens --------------------------------------------------------------------------------

    def count_tokens(self, text: str) -> int:
        return self._counted(text)

    def _count_now(self, text: str) -> int:
        if self._llm is None:
            self.load()
        return len(self._llm.tokenize(text.encode("utf-8", "replace"), add_bos=False, special=False))

    def prompt_tokens(self, request: GenerationRequest) -> list[int]:
        """The request as tokens, formatted for this model."""
        return request_tokens(self._llm, request)

    # -- generation ----------------------------------------------------------------------------

    def submit(self, request: GenerationRequest, on_text: OnText, cancel: CancelToken, options: RunOptions = PLAIN) -> Future[Generation]:
        return self._worker.submit(self._generate, cancel, request, on_text, options)

    def _generate(self, cancel: CancelToken, request: GenerationRequest, on_text: OnText, options: RunOptions) -> Generation:
        with self._lock:
            self._load_locked()
            try:
                with self._worker.running(cancel):
                    return self._generate_locked(request, on_text, cancel, options)
            except RuntimeError as exc:
                if cancel.cancelled:
                    log.info("Generation cancelled inside a batch; the model worker is free")
                    raise GenerationCancelled("The request was cancelled.") from exc
                raise GenerationFailed(f"llama.cpp failed while generating: {exc}") from exc
            except GenerationCancelled:
                log.info("Generation cancelled; the model worker is free")
                raise

    def _generate_locked(self, request: GenerationRequest, on_text: OnText, cancel: CancelToken, options: RunOptions) -> Generation:
        import llama_cpp

        from lsp_server.model.sampling import Sampling

        engine = self._engine
        max_tokens = answer_budget(engine.n_ctx, request.max_tokens + request.thinking_tokens)
        tokens, cut = fit_tokens(self.prompt_tokens(request), engine.n_ctx - max_tokens, request.keep_head_tokens)
        if options.shared_only:
            return self._prefill_shared(request, tokens, cancel, options.on_prefill)
        started = time.perf_counter()
        speculative = options.speculative and self.settings.prompt_lookup
        engine.prepare_sampling(speculative)
        cached = self._prefill(tokens, cancel, options.on_prefill, request)
        prefilled = time.perf_counter()
        stream, count, reason, first = TextStream(request.stop, request.answer_prefix), 0, "length", 0.0
        router, budget = ThoughtRouter(on_text, request.on_thought), TokenBudget(request.max_tokens, request.thinking_tokens, max_tokens)
        if request.answer_prefix:
            router(request.answer_prefix)
        sampling = Sampling(temperature=request.temperature) if request.seed is None else Sampling(temperature=request.temperature, seed=request.seed)
        generated = engine.generate(sampling, speculative, native_sampler=self.settings.sampler == "llama")
        try:
            for token in generated:
                first = first or time.perf_counter() - started
                cancel.raise_if_cancelled()
                if not options.ignore_eog and llama_cpp.llama_vocab_is_eog(engine.vocab, token):
                    reason = "eog"
                    break
                count += 1
                piece = stream.feed(self._llm.detokenize([token], special=token in self._markup))
                if piece:
                    router(piece)
                if stream.stopped:
                    reason = "stop"
                    break
                if budget.spend(router.inside):
                    break
        finally:
            generated.close()
        tail = stream.finish()
        if tail:
            router(tail)
        router.finish()
        done = time.perf_counter()
        split = split_thought(stream.text)
        return Generation(
            text=split.answer,
            thought=split.thought,
            thought_cut_off=split.cut_off,
            prompt_tokens=len(tokens),
            cached_tokens=cached,
            completion_tokens=count,
            stop_reason=reason,
            prompt_cut_tokens=cut,
            prefill_seconds=prefilled - started,
            decode_seconds=done - prefilled,
            first_token_seconds=first,
        )

    def _prefill_shared(self, request: GenerationRequest, tokens: list[int], cancel: CancelToken, on_progress) -> Generation:
        """Prefill the part other prompts share, a checkpoint at its end; a restart restores it too."""
        started, shared = time.perf_counter(), tokens[: shared_until(request, tokens, self._shared_tokens)]
        if not shared:
            return Generation("", 0, 0, 0, "length")
        # reuse() keeps all but a prompt's last token (evaluated again for its logits): none wanted here
        reused = self._engine.reuse([*shared, -1])
        self._evaluate(shared, reused, cancel, 0, on_progress)
        self._engine.checkpoint()  # where the questions part (kept once: one there already stays)
        self._engine.stable = len(shared)
        return Generation("", len(shared), reused, 0, "length", prefill_seconds=time.perf_counter() - started)

    def _prefill(self, tokens: list[int], cancel: CancelToken, on_progress=None, request: GenerationRequest | None = None) -> int:
        """Evaluate the prompt, reusing the KV cache of the longest common prefix; returns how many
        tokens were reused. A checkpoint of the sliding-window layers where the part other prompts
        share ends (``shared_chars``), else where this prompt parts from the cached one, lets the
        next prompt that parts there restore those layers instead of prefilling it all again."""
        engine = self._engine
        parts_at = common_prefix(engine.tokens, tokens[:-1])
        reused = engine.reuse(tokens)
        shared = shared_until(request, tokens, self._shared_tokens) if request and len(tokens) - reused > SHARED_CHECK_FROM else 0
        if shared or 0 < parts_at < len(tokens) - 1:  # the same prompt again parts nowhere new
            engine.stable = shared or parts_at
        self._evaluate(tokens, reused, cancel, shared if shared > reused else parts_at if parts_at > reused else 0, on_progress)
        return reused

    def _evaluate(self, tokens: list[int], start: int, cancel: CancelToken, checkpoint_at: int, on_progress) -> None:
        # The abort callback (a Python call per graph node) only runs during prefill: decode
        # checks the token between tokens anyway, and the callback cost a third of decode speed.
        self._set_abort(True)
        try:
            self._engine.prefill(tokens, start, cancel, checkpoint_at=checkpoint_at, on_progress=on_progress)
        except BaseException:
            self._engine.forget()  # a half-evaluated batch leaves the cache in an unknown state
            raise
        finally:
            self._set_abort(False)

    def close(self) -> None:
        """Stop the running generation (if any), then free the model."""
        self._worker.stop(wait=True)
        with self._lock:
            if self._llm is not None:
                self._save_state()
                self._engine.close()
                self._llm.close()
                self._llm = None
                self._info = None
