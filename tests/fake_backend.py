"""A backend with scripted answers, so feature tests need no model file and no llama.cpp."""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field

from lsp_server.estimate import estimate_tokens
from lsp_server.model.backend import PLAIN, CancelToken, Generation, GenerationRequest, ModelInfo, OnText, RunOptions


def model_info(prompt_style: str = "chat", supports_thinking: bool = False, n_ctx: int = 8192) -> ModelInfo:
    return ModelInfo(path="fake.gguf", source="test", architecture="fake", name="fake", n_ctx=n_ctx, n_ctx_train=n_ctx,
                     n_gpu_layers=0, gpu_offload_supported=False, has_chat_template=prompt_style == "chat",
                     prompt_style=prompt_style, size_bytes=0, supports_thinking=supports_thinking)


@dataclass
class FakeBackend:
    """Implements ``model.backend.Backend``: each ``submit`` streams the next scripted answer
    (the last one repeats), word by word, and records what it was asked."""

    answers: tuple[str, ...] = ("An answer.",)
    info: ModelInfo = field(default_factory=model_info)
    load_error: Exception | None = None
    requests: list[GenerationRequest] = field(default_factory=list)
    options: list[RunOptions] = field(default_factory=list)
    counted: int = 0
    closed: bool = False
    loaded: bool = False

    def load(self) -> ModelInfo:
        if self.load_error is not None:
            raise self.load_error
        self.loaded = True
        return self.info

    def count_tokens(self, text: str) -> int:
        self.counted += 1
        return estimate_tokens(text)

    def submit(self, request: GenerationRequest, on_text: OnText, cancel: CancelToken, options: RunOptions = PLAIN) -> Future[Generation]:
        self.requests.append(request)
        self.options.append(options)
        done: Future[Generation] = Future()
        try:
            done.set_result(self._answer(request, on_text, cancel))
        except Exception as exc:  # as a worker thread would: the caller sees it on the future
            done.set_exception(exc)
        return done

    def _answer(self, request: GenerationRequest, on_text: OnText, cancel: CancelToken) -> Generation:
        cancel.raise_if_cancelled()
        self.load()
        text = self.answers[min(len(self.requests), len(self.answers)) - 1]
        for piece in text.split(" ")[:1] + [" " + word for word in text.split(" ")[1:]]:
            on_text(piece)
        prompt = (request.text or "".join(m.content for m in request.messages)) + request.answer_prefix
        return Generation(text=text, prompt_tokens=estimate_tokens(prompt), cached_tokens=0,
                          completion_tokens=len(text.split()), stop_reason="stop")

    def close(self) -> None:
        self.closed = True
