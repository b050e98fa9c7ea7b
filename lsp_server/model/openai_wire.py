"""The wire format of OpenAI-compatible servers (pure): request bodies, server-sent events, and
the chunks of a streamed chat or text completion."""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from lsp_server.errors import GenerationFailed
from lsp_server.model.backend import GenerationRequest


def sse_events(lines: Iterable[str]) -> Iterator[str]:
    """The ``data`` of each server-sent event, up to ``[DONE]``; comments and other fields skipped."""
    data: list[str] = []
    for line in lines:
        line = line.rstrip("\r\n")
        if line:
            name, _, value = line.partition(":")
            if name == "data":
                data.append(value.removeprefix(" "))
            continue
        if data:
            payload, data = "\n".join(data), []
            if payload.strip() == "[DONE]":
                return
            yield payload
    if data and "\n".join(data).strip() != "[DONE]":
        yield "\n".join(data)


@dataclass(frozen=True)
class Chunk:
    text: str
    finish_reason: str | None
    usage: dict | None
    timings: dict | None
    reasoning: str = ""
    """A thought the server returns apart from the answer (``reasoning_content``)."""


def parse_chunk(payload: str) -> Chunk:
    """One streamed chunk of a chat or text completion; an error event raises GenerationFailed."""
    try:
        obj = json.loads(payload)
    except json.JSONDecodeError as exc:
        raise GenerationFailed(f"The team server sent something that is not JSON: {payload[:200]!r}") from exc
    if "error" in obj:
        error = obj["error"]
        message = error.get("message", error) if isinstance(error, dict) else error
        raise GenerationFailed(f"The team server failed while generating: {message}")
    choice = (obj.get("choices") or [{}])[0]
    delta = choice.get("delta") or {}
    text = delta.get("content") or choice.get("text") or ""
    reasoning = delta.get("reasoning_content") or delta.get("reasoning") or ""
    return Chunk(text, choice.get("finish_reason"), obj.get("usage"), obj.get("timings"), reasoning)


@dataclass
class Outcome:
    """What the stream said besides the text."""

    reason: str = "length"
    pieces: int = 0
    first: float = 0.0
    usage: dict | None = None
    timings: dict | None = None

    def add(self, chunk: Chunk) -> None:
        self.first = self.first or time.perf_counter()
        self.usage = chunk.usage or self.usage
        self.timings = chunk.timings or self.timings
        if chunk.finish_reason:
            self.reason = "length" if chunk.finish_reason == "length" else "stop"


def request_body(request: GenerationRequest, model: str, slot: int | None) -> tuple[str, dict]:
    """The endpoint (relative to the API base) and JSON body for ``request``."""
    body: dict = {"model": model, "max_tokens": request.max_tokens + request.thinking_tokens, "temperature": request.temperature, "stream": True}
    body["stream_options"] = {"include_usage": True}
    if request.stop:
        body["stop"] = list(request.stop)
    if request.seed is not None:  # llama-server and vLLM both take a per-request seed
        body["seed"] = request.seed
    if slot is not None:
        body.update(cache_prompt=True, id_slot=slot)
    if request.text is not None:
        return "completions", {**body, "prompt": request.text + request.answer_prefix}
    messages = [{"role": m.role, "content": m.content} for m in request.messages]
    if request.thinking:  # llama-server and vLLM hand these to the chat template
        body["chat_template_kwargs"] = {"enable_thinking": True}
    if request.answer_prefix:  # servers that support it continue a final assistant message
        messages.append({"role": "assistant", "content": request.answer_prefix})
    return "chat/completions", {**body, "messages": messages}


def slot_for(cache_key: str, total_slots: int) -> int:
    """A stable slot for a workspace: the same key always lands in the same slot."""
    return zlib.crc32(cache_key.encode("utf-8")) % max(1, total_slots)
