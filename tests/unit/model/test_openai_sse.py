"""The remote backend's pure parts: server-sent events, chunks, request bodies, slots."""

from __future__ import annotations

import json

import pytest

from lsp_server.errors import GenerationFailed
from lsp_server.model.backend import GenerationRequest, Message
from lsp_server.model.openai_wire import parse_chunk, request_body, slot_for, sse_events


def test_events_are_split_on_blank_lines_and_end_at_done():
    lines = ['data: {"a": 1}', "", ": keep-alive comment", "", 'data: {"b": 2}', "", "data: [DONE]", "", 'data: {"late": 1}', ""]
    assert list(sse_events(lines)) == ['{"a": 1}', '{"b": 2}']


def test_multi_line_data_and_other_fields():
    lines = ["event: message", "id: 7", "data: first", "data:second", "retry: 100", "", "data: last"]
    assert list(sse_events(lines)) == ["first\nsecond", "last"]


def test_crlf_line_endings():
    assert list(sse_events(['data: {"x": 1}\r\n', "\r\n", "data: [DONE]\r\n", "\r\n"])) == ['{"x": 1}']


def test_chat_and_text_chunks():
    chat = parse_chunk(json.dumps({"choices": [{"delta": {"content": "Hel"}, "finish_reason": None}]}))
    text = parse_chunk(json.dumps({"choices": [{"text": "lo", "finish_reason": "length"}]}))
    assert (chat.text, chat.finish_reason) == ("Hel", None)
    assert (text.text, text.finish_reason) == ("lo", "length")


def test_role_only_and_usage_only_chunks_have_no_text():
    role = parse_chunk(json.dumps({"choices": [{"delta": {"role": "assistant"}}]}))
    usage = parse_chunk(json.dumps({"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 3}}))
    assert role.text == "" and usage.text == ""
    assert usage.usage == {"prompt_tokens": 9, "completion_tokens": 3}


@pytest.mark.parametrize("payload", ['{"error": {"message": "context overflow"}}', "not json"])
def test_errors_in_the_stream_are_typed(payload):
    with pytest.raises(GenerationFailed):
        parse_chunk(payload)


def test_raw_text_goes_to_completions_with_the_prefix_appended():
    request = GenerationRequest(text="### Code\nx = 1\n### Explanation\n", answer_prefix="This code", stop=("###",), max_tokens=9)
    path, body = request_body(request, "gemma", slot=None)
    assert path == "completions"
    assert body["prompt"].endswith("### Explanation\nThis code")
    assert body["stop"] == ["###"] and body["max_tokens"] == 9 and body["stream"] is True
    assert "cache_prompt" not in body and "id_slot" not in body
    assert "seed" not in body, "no seed: the server's own"


def test_a_seed_goes_to_the_server():
    _, body = request_body(GenerationRequest(text="x", seed=24301), "gemma", slot=None)
    assert body["seed"] == 24301


def test_messages_go_to_chat_completions_with_cache_hints():
    request = GenerationRequest(messages=(Message("system", "be brief"), Message("user", "explain")))
    path, body = request_body(request, "gemma", slot=3)
    assert path == "chat/completions"
    assert body["messages"] == [{"role": "system", "content": "be brief"}, {"role": "user", "content": "explain"}]
    assert body["cache_prompt"] is True and body["id_slot"] == 3


def test_slots_are_stable_per_workspace_and_in_range():
    assert slot_for("/home/a/project", 4) == slot_for("/home/a/project", 4)
    assert {slot_for(f"/w/{i}", 4) for i in range(50)} == {0, 1, 2, 3}
    assert slot_for("/anything", 0) == 0


def test_the_api_key_comes_from_the_named_variable_only(monkeypatch):
    from lsp_server.config import ModelSettings, RemoteSettings
    from lsp_server.model.openai_backend import OpenAIBackend, RemoteConfigError

    remote = RemoteSettings(url="http://127.0.0.1:9/v1", api_key_env="GEMMA_TEST_KEY")
    monkeypatch.delenv("GEMMA_TEST_KEY", raising=False)
    with pytest.raises(RemoteConfigError, match="GEMMA_TEST_KEY.*not set"):
        OpenAIBackend(remote, ModelSettings())
    monkeypatch.setenv("GEMMA_TEST_KEY", "k-123")
    backend = OpenAIBackend(remote, ModelSettings())  # nothing is contacted before the first request
    assert backend._client.headers["authorization"] == "Bearer k-123"
    backend.close()


def test_a_thought_returned_apart_is_read_as_reasoning_not_as_answer():
    chunk = parse_chunk(json.dumps({"choices": [{"delta": {"reasoning_content": "hmm"}, "finish_reason": None}]}))
    assert (chunk.reasoning, chunk.text) == ("hmm", "")


def test_a_thinking_chat_request_turns_the_templates_switch_on():
    from lsp_server.model.backend import GenerationRequest, Message

    _, body = request_body(GenerationRequest(messages=(Message("user", "q"),), max_tokens=10, thinking=True, thinking_tokens=20), "gemma", slot=None)
    assert body["chat_template_kwargs"] == {"enable_thinking": True}
    assert body["max_tokens"] == 30  # one budget for a server that does not tell the two apart
    _, body = request_body(GenerationRequest(messages=(Message("user", "q"),)), "gemma", slot=None)
    assert "chat_template_kwargs" not in body
