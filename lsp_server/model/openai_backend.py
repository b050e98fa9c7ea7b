"""The remote backend: an OpenAI-compatible HTTP server (llama-server, llama-cpp-python's server, vLLM).

The only module of gemma-lsp that opens network connections, and only to the URL that
``privacy.egress`` allowed: no proxy from the environment, no redirects followed. Chat requests
stream from ``/chat/completions``; raw completion text (few-shot prompts for base models) streams
from ``/completions``. A cancelled request shuts the connection down, which stops the server's
work. Connection failures are retried ``remote.retries`` times, never once text has arrived.
The wire format (request bodies, server-sent events, chunks) is in ``openai_wire``.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

import httpx

from lsp_server.config import ModelSettings, RemoteSettings
from lsp_server.errors import GemmaLspError, GenerationCancelled, GenerationFailed
from lsp_server.estimate import estimate_tokens
from lsp_server.model.backend import PLAIN, CancelToken, Generation, GenerationRequest, ModelInfo, OnText, RunOptions
from lsp_server.model.openai_wire import Outcome, parse_chunk, request_body, slot_for, sse_events
from lsp_server.model.text_stream import TextStream
from lsp_server.model.thinking import InlineThought, ThoughtRouter, model_thinks, split_thought
from lsp_server.model.worker import ModelWorker
from lsp_server.privacy.egress import Destination, check_destination

log = logging.getLogger(__name__)
T = TypeVar("T")
RETRY_STATUS = {502, 503, 504}
TOKENIZERS = (("tokenize", "content"), ("extras/tokenize/count", "input"))
"""Token counting endpoints, relative to the server root: llama-server and vLLM, llama-cpp-python."""


class RemoteUnreachable(GemmaLspError):
    """The team server did not answer."""


class RemoteConfigError(GemmaLspError):
    """The remote settings cannot work as they are (missing key variable, wrong URL, refused key)."""


class _Retryable(Exception):
    """A status the server gives while starting or overloaded."""


# -- the backend --------------------------------------------------------------------------------


class OpenAIBackend:
    def __init__(self, remote: RemoteSettings, model: ModelSettings) -> None:
        self.remote = remote
        self.model_settings = model
        self.destination: Destination = check_destination(remote.url, remote.allowed_hosts)
        self._root = self.destination.url.removesuffix("/v1")
        self._client = _http_client(remote, self.destination)
        self._worker = ModelWorker("gemma-remote")
        self._lock = threading.Lock()
        self._info: ModelInfo | None = None
        self._tokenizer: tuple[str, str] | None = None
        self._total_slots = 1
        log.warning("Code packed into prompts is sent to %s (backend openai).", self.destination.describe())

    # -- loading -------------------------------------------------------------------------------

    def load(self) -> ModelInfo:
        """Ask the server what it serves; RemoteUnreachable when it does not answer."""
        with self._lock:
            if self._info is None:
                self._info = self._probe()
            return self._info

    @property
    def loaded(self) -> bool:
        return self._info is not None

    def _probe(self) -> ModelInfo:
        served = self._with_retries(lambda: self._get_json(f"{self.destination.url}/models"))
        ids = [m.get("id", "") for m in served.get("data", []) if isinstance(m, dict)]
        name = self.remote.model or (ids[0] if ids else "")
        if self.remote.model and ids and self.remote.model not in ids:
            log.warning("remote.model %r is not among the models %s lists: %s", self.remote.model, self.destination.url, ids)
        props = self._optional_json("GET", f"{self._root}/props")
        self._total_slots = int(props.get("total_slots") or 1)
        self._tokenizer = self._find_tokenizer(name)
        n_ctx = int((props.get("default_generation_settings") or {}).get("n_ctx") or self.model_settings.n_ctx)
        if n_ctx < self.model_settings.n_ctx:
            log.warning("The team server's context is %d tokens, model.n_ctx says %d: set model.n_ctx to %d.", n_ctx, self.model_settings.n_ctx, n_ctx)
        style = self.model_settings.prompt_style
        log.info("Team server %s serves %r (n_ctx %d, %d slot(s))", self.destination.url, name, n_ctx, self._total_slots)
        return ModelInfo(
            path=self.destination.url,
            source="remote",
            architecture="remote",
            name=name,
            n_ctx=n_ctx,
            n_ctx_train=0,
            n_gpu_layers=0,
            gpu_offload_supported=False,
            has_chat_template=bool(props.get("chat_template", True)),
            prompt_style="chat" if style == "auto" else style,
            supports_thinking=model_thinks("remote", props.get("chat_template"), name),
            size_bytes=0,
            extra={"url": self.destination.url, "tokenizer": self._tokenizer[0] if self._tokenizer else "estimate"},
        )

    def _find_tokenizer(self, model: str) -> tuple[str, str] | None:
        for path, key in TOKENIZERS:
            answer = self._optional_json("POST", f"{self._root}/{path}", {key: "def f(): pass", "prompt": "x", "model": model})
            if "count" in answer or "tokens" in answer:
                return path, key
        return None

    # -- tokens --------------------------------------------------------------------------------

    def count_tokens(self, text: str) -> int:
        """The server's own count when it has a tokenizer endpoint, else an estimate."""
        self.load()
        if self._tokenizer is None:
            return estimate_tokens(text)
        path, key = self._tokenizer
        answer = self._optional_json("POST", f"{self._root}/{path}", {key: text, "prompt": text, "model": self._info.name})
        if "count" in answer:
            return int(answer["count"])
        return len(answer["tokens"]) if "tokens" in answer else estimate_tokens(text)

    # -- generation ----------------------------------------------------------------------------

    def submit(self, request: GenerationRequest, on_text: OnText, cancel: CancelToken, options: RunOptions = PLAIN) -> Future[Generation]:
        return self._worker.submit(self._generate, cancel, request, on_text, options)

    def _generate(self, cancel: CancelToken, request: GenerationRequest, on_text: OnText, options: RunOptions) -> Generation:
        if options.shared_only:
            return Generation("", 0, 0, 0, "length")  # a shared server's cache is not ours to warm
        info = self.load()
        slot = slot_for(options.cache_key, self._total_slots) if self.remote.llama_server_cache else None
        path, body = request_body(request, info.name, slot)
        started = time.perf_counter()
        with self._worker.running(cancel):
            response = self._with_retries(lambda: self._open_stream(path, body), cancel)
            stream, router = TextStream(request.stop, request.answer_prefix), ThoughtRouter(on_text, request.on_thought)
            if request.answer_prefix:
                router(request.answer_prefix)
            with _closed_on_cancel(response, cancel):
                outcome = self._read(response, stream, router, cancel)
            router.finish()
        return self._generation(request, stream, outcome, started)

    def _open_stream(self, path: str, body: dict) -> httpx.Response:
        response = self._client.send(self._client.build_request("POST", path, json=body), stream=True)
        if response.status_code != 200:
            detail = response.read().decode("utf-8", "replace")[:300]
            response.close()
            raise self._status_error(response.status_code, detail)
        return response

    def _read(self, response: httpx.Response, stream: TextStream, on_text: OnText, cancel: CancelToken) -> Outcome:
        outcome, inline = Outcome(), InlineThought()
        try:
            for payload in sse_events(response.iter_lines()):
                cancel.raise_if_cancelled()
                chunk = parse_chunk(payload)
                outcome.add(chunk)
                text = inline.feed(chunk.reasoning, chunk.text)
                if text and self._emit(text, stream, on_text, outcome):
                    break
        except GemmaLspError:
            raise
        except Exception as exc:  # a shut-down socket surfaces as any of httpx's read errors
            if cancel.cancelled:
                raise GenerationCancelled("The request was cancelled.") from exc
            raise GenerationFailed(f"The connection to {self.destination.url} broke during the answer ({exc}); try again.") from exc
        tail = stream.finish()
        if tail:
            on_text(tail)
        return outcome

    @staticmethod
    def _emit(text: str, stream: TextStream, on_text: OnText, outcome: Outcome) -> bool:
        """Pass a piece on; True when a stop string ended the answer."""
        outcome.pieces += 1
        piece = stream.feed(text.encode("utf-8"))
        if piece:
            on_text(piece)
        if stream.stopped:
            outcome.reason = "stop"
        return stream.stopped

    def _generation(self, request: GenerationRequest, stream: TextStream, outcome: Outcome, started: float) -> Generation:
        usage, timings = outcome.usage or {}, outcome.timings or {}
        cached = int(timings.get("cache_n") or (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)
        prompt_tokens = usage.get("prompt_tokens") or (timings.get("prompt_n", 0) + cached if timings else 0)
        if not prompt_tokens:
            prompt_tokens = estimate_tokens((request.text or "".join(m.content for m in request.messages)) + request.answer_prefix)
        done = time.perf_counter()
        first = outcome.first or done
        split = split_thought(stream.text)
        return Generation(
            text=split.answer,
            thought=split.thought,
            thought_cut_off=split.cut_off,
            prompt_tokens=int(prompt_tokens),
            cached_tokens=cached,
            completion_tokens=int(usage.get("completion_tokens") or outcome.pieces),
            stop_reason=outcome.reason,
            prefill_seconds=first - started,
            decode_seconds=done - first,
            first_token_seconds=first - started,
        )

    # -- HTTP helpers --------------------------------------------------------------------------

    def _with_retries(self, attempt: Callable[[], T], cancel: CancelToken | None = None) -> T:
        tries = max(0, self.remote.retries) + 1
        for number in range(1, tries + 1):
            if cancel is not None:
                cancel.raise_if_cancelled()
            try:
                return attempt()
            except (httpx.TransportError, _Retryable) as exc:
                reason = f"{exc.__class__.__name__}: {exc}" if str(exc) else exc.__class__.__name__
                log.info("Team server %s, attempt %d of %d: %s", self.destination.url, number, tries, reason)
            if number < tries:
                time.sleep(min(0.5 * 2 ** (number - 1), 4.0))
        raise RemoteUnreachable(
            f"The team server at {self.destination.url} did not answer ({reason}) after {tries} attempt(s). "
            "Check that the server is running and listening at that address, that remote.url is right "
            "(the OpenAI API base, ending in /v1), and for HTTPS that its certificate is valid. "
            "Code actions are still listed; the model is needed only to run them."
        )

    def _get_json(self, url: str) -> dict:
        response = self._client.get(url)
        if response.status_code != 200:
            raise self._status_error(response.status_code, response.text[:300])
        return response.json()

    def _optional_json(self, method: str, url: str, body: dict | None = None) -> dict:
        """An endpoint some servers lack: any failure reads as an empty answer."""
        try:
            response = self._client.request(method, url, json=body)
            return response.json() if response.status_code == 200 else {}
        except (httpx.HTTPError, ValueError):
            return {}

    def _status_error(self, status: int, detail: str) -> Exception:
        if status in RETRY_STATUS:
            return _Retryable(f"HTTP {status}")
        if status in (401, 403):
            return RemoteConfigError(
                f"The team server at {self.destination.url} refused the request (HTTP {status}): set the API key in the "
                f"environment variable that remote.api_key_env names ({self.remote.api_key_env or 'none set'})."
            )
        if status == 404:
            return RemoteConfigError(
                f"No OpenAI API at {self.destination.url} (HTTP 404: {detail.strip()[:120]}). remote.url must be the API "
                "base, e.g. http://host:8080/v1, and remote.model a model the server serves."
            )
        hint = " If the prompt is too long for it, set model.n_ctx to the server's context size." if status == 400 else ""
        return GenerationFailed(f"The team server at {self.destination.url} answered HTTP {status}: {detail.strip()}.{hint}")

    def close(self) -> None:
        """Cancel the running request (its stream closes), then stop the worker and the client.

        Does not wait for the worker: a connection attempt to a silent host could take the whole
        timeout, and this runs on the server's event loop when settings change."""
        self._worker.stop(wait=False)
        self._client.close()


def _http_client(remote: RemoteSettings, destination: Destination) -> httpx.Client:
    headers = {}
    if remote.api_key_env:
        key = os.environ.get(remote.api_key_env)
        if not key:
            raise RemoteConfigError(
                f"remote.api_key_env names {remote.api_key_env}, but that variable is not set for the gemma-lsp "
                "process: set it in the environment the editor starts gemma-lsp with, or clear remote.api_key_env."
            )
        headers["Authorization"] = f"Bearer {key}"
    # trust_env=False: no proxy variables and no .netrc, so the code goes to this URL and nowhere else.
    return httpx.Client(
        base_url=destination.url + "/",
        headers=headers,
        timeout=httpx.Timeout(remote.timeout_seconds),
        verify=_tls_verification(remote.verify_tls),
        trust_env=False,
        follow_redirects=False,
    )


def _tls_verification(verify: bool):
    """certifi's CA bundle, or the one named by SSL_CERT_FILE (a company CA); False when turned off."""
    cafile = os.environ.get("SSL_CERT_FILE")
    if not verify or not cafile:
        return verify
    import ssl

    return ssl.create_default_context(cafile=cafile)


class _closed_on_cancel:
    """While the body streams, a watcher shuts the socket down as soon as ``cancel`` is set.

    Shutting down (not closing) wakes a read blocked in another thread at once; the server then
    sees the client gone and stops generating.
    """

    def __init__(self, response: httpx.Response, cancel: CancelToken) -> None:
        self._response, self._cancel, self._done = response, cancel, threading.Event()

    def __enter__(self) -> None:
        threading.Thread(target=self._watch, name="gemma-remote-cancel", daemon=True).start()

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._response.close()

    def _watch(self) -> None:
        while not self._done.wait(0.05):
            if self._cancel.cancelled:
                stream = self._response.extensions.get("network_stream")
                sock = stream.get_extra_info("socket") if stream is not None else None
                try:
                    if sock is not None:
                        sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
