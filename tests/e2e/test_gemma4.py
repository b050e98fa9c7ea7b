"""Every action on a model that speaks Gemma 4: its turns, its end of turn, its thought channel.

Two halves. The tiny Gemma 4 GGUF (tests/gemma4_fixture.py: Gemma 4's control tokens and the real
31B template, random weights) runs in the server's process through the chat path, thinking off
and on: every action completes and no control token text reaches an edit, a document, a hover
or the stream. Random weights cannot write a thought followed by a code block, so the other half
scripts that answer from a fake team server, with the thought inline (as a raw template's output)
and apart (``reasoning_content``): the answer becomes the edit, the thought never does.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from lsp_server.model.backend import GenerationRequest, Message
from lsp_server.model.chat import gemma4_turns
from tests.e2e.conftest import open_file, remote_options, start
from tests.e2e.fake_team_server import FakeTeamServer
from tests.e2e.test_explain import actions_at
from tests.e2e.test_fix_test import FAILING_LINE, STATS, TESTS
from tests.e2e.test_hover import hover_at
from tests.gemma4_fixture import build_gemma4_gguf

pytestmark = pytest.mark.e2e
CONTROL_TEXT = ("<|turn>", "<turn|>", "<|channel>", "<channel|>", "<|think|>", "<start_of_turn>", "<end_of_turn>")
THOUGHT = "THOUGHT-CANARY the two middle values must be averaged"

FIXED_MEDIAN = '''def median(values):
    """The middle value; the mean of the two middle ones for an even count."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2
'''
ANSWERS = {  # by a phrase of each action's prompt
    "Write pytest tests": "```python\nfrom shop.pricing import apply_discount\n\n\ndef test_no_discount_keeps_the_price():\n    assert apply_discount(10, 0) == 10\n```\n",
    "Implement `clamp`": "```python\ndef clamp(value, low, high):\n    return max(low, min(value, high))\n```\n",
    "Refactor `apply_discount`": "```python\ndef apply_discount(price, percent):\n    \"\"\"Return the price reduced by a percentage.\"\"\"\n"
    "    if not 0 <= percent <= 100:\n        raise ValueError(\"percent must be between 0 and 100\")\n    return round(price * (100 - percent) / 100, 2)\n```\n",
    ") fails:": f"The even case returns the upper middle value instead of the mean.\n```python\n{FIXED_MEDIAN}```\n",
}
EXPLANATION = "Reduces a price by a percentage, refusing percentages outside 0-100."


def thinking_answer(body: dict) -> str:
    prompt = json.dumps(body)
    answer = next((text for phrase, text in ANSWERS.items() if json.dumps(phrase)[1:-1] in prompt), EXPLANATION)
    return f"<|channel>thought\n{THOUGHT}<channel|>{answer}"


@pytest.fixture(scope="session")
def gemma4_gguf(tmp_path_factory) -> Path:
    from lsp_server.model.resolve import bundled_model_path

    bundled = bundled_model_path()
    if bundled is None:
        pytest.skip("the bundled Gemma 3 270M model is not installed (its tokenizer builds the Gemma 4 fixture)")
    return build_gemma4_gguf(tmp_path_factory.mktemp("gemma4") / "gemma4-tiny.gguf", bundled)


@pytest.fixture
def stats(workspace: Path) -> Path:
    (workspace / "shop" / "stats.py").write_text(STATS)
    (workspace / "tests" / "test_stats.py").write_text(TESTS)
    return workspace


def assert_clean(text: str, where: str) -> None:
    found = [t for t in (THOUGHT, *CONTROL_TEXT) if t in text]
    assert not found, f"{found} in {where}: {text[:500]!r}"


def edit_texts(edit: types.WorkspaceEdit | None) -> list[str]:
    if edit is None:
        return []
    texts = [e.new_text for edits in (edit.changes or {}).values() for e in edits]
    for change in edit.document_changes or []:
        texts += [e.new_text for e in getattr(change, "edits", [])]
    return texts


async def run_every_action(client: LanguageClient, workspace: Path) -> dict[str, types.CodeAction]:
    """Each action once: Explain (document and comment), Refactor, Generate tests, Implement, Fix
    failing test; returns the resolved actions by title."""
    pricing = open_file(client, workspace / "shop" / "pricing.py")
    stubs = open_file(client, workspace / "shop" / "stubs.py")
    tests = open_file(client, workspace / "tests" / "test_stats.py")
    wanted = [(pricing, 5, "Gemma: Explain apply_discount"), (pricing, 5, "Gemma: Explain apply_discount as a comment"),
              (pricing, 5, "Gemma: Refactor apply_discount"), (pricing, 5, "Gemma: Generate tests for apply_discount"),
              (stubs, 4, "Gemma: Implement clamp"), (tests, FAILING_LINE, "Gemma: Fix failing test test_median_of_even_count")]
    resolved = {}
    for uri, line, title in wanted:
        action = next(a for a in await actions_at(client, uri, line) if a.title == title)
        resolved[title] = await client.code_action_resolve_async(action)
    return resolved


def assert_nothing_leaked(client: LanguageClient, resolved: dict[str, types.CodeAction], hover: types.Hover | None) -> None:
    for title, action in resolved.items():
        assert_clean(action.title, f"the title of {title}")
        for text in edit_texts(action.edit):
            assert_clean(text, f"the edit of {title}")
    for shown in client.shown_documents:
        document = Path(shown.uri.removeprefix("file://")).read_text()
        body = document.split("<details>")[0]  # the thought may only be folded away
        assert_clean(body, f"the document {shown.uri}")
        assert not [t for t in CONTROL_TEXT if t in document], document
    for message in client.messages:
        assert_clean(message.message, "a message")
    for params in client.stream:
        assert_clean(params["delta"], "a streamed answer")
    if hover is not None:
        assert_clean(hover.contents.value, "the hover")


# -- the Gemma 4 GGUF in the server's process ----------------------------------------------------


def test_the_backend_prompts_the_gemma4_file_through_its_own_template(gemma4_gguf: Path, tmp_path: Path):
    """The exact prompt tokens: the real template rendered, each control token one token."""
    from lsp_server.config import ModelSettings
    from lsp_server.model.llama_backend import LlamaCppBackend
    from lsp_server.model.resolve import ResolvedModel

    messages = (Message("system", "Be brief."), Message("user", "Explain f."))
    for template in (True, False):  # the GGUF's template, then the fallback turns without one
        path = gemma4_gguf if template else build_gemma4_gguf(tmp_path / "no-template.gguf", _bundled(), template=False)
        backend = LlamaCppBackend(ModelSettings(n_ctx=512, n_threads=2, keep_kv_state=False, prompt_style="chat"), ResolvedModel(path, "test"))
        try:
            info = backend.load()
            assert (info.architecture, info.supports_thinking, info.has_chat_template) == ("gemma4", True, template)
            llm = backend._llm
            # The channel markers are rendered as text (the router splits on them), nothing else is.
            assert sorted(llm.detokenize([t], special=True) for t in backend._markup) == [b"<channel|>", b"<|channel>"]
            for thinking in (False, True):
                tokens = backend.prompt_tokens(GenerationRequest(messages=messages, thinking=thinking))
                assert llm.detokenize(tokens, special=True).decode() == "<bos>" + gemma4_turns(messages, thinking)
                turn = llm.tokenize(b"<|turn>", add_bos=False, special=True)
                assert len(turn) == 1 and tokens.count(turn[0]) == 3
            generation = backend.submit(GenerationRequest(messages=messages, max_tokens=24, temperature=0.0), lambda _: None, _cancel()).result()
            assert_clean(generation.text, "the answer")
        finally:
            backend.close()


@pytest.mark.parametrize("thinking", ["off", "on"])
async def test_every_action_runs_on_the_gemma4_file(bare_client: LanguageClient, stats: Path, gemma4_gguf: Path, thinking: str):
    model = {"path": str(gemma4_gguf), "n_ctx": 2048, "max_tokens": 24, "temperature": 0.0, "thinking": thinking,
             "thinking_max_tokens": 24, "keep_kv_state": False}
    await start(bare_client, stats, {"model": model, "verify": {"timeoutSeconds": 60}, "hover": {"waitSeconds": 20}})
    resolved = await run_every_action(bare_client, stats)
    for title, action in resolved.items():  # random weights: nothing useful, but every action answered
        assert "(verified:" in action.title or "(not offered" in action.title or title.startswith("Gemma: Explain"), action.title
    hover = await hover_at(bare_client, open_file(bare_client, stats / "shop" / "pricing.py"), 3, 6)
    assert bare_client.stream, "the model was asked"
    assert_nothing_leaked(bare_client, resolved, hover)


# -- scripted thoughts from a team server ---------------------------------------------------------


@pytest.mark.parametrize("thought_apart", [False, True], ids=["thought inline", "thought apart"])
async def test_a_thought_never_reaches_an_edit_a_comment_or_a_hover(bare_client: LanguageClient, stats: Path, thought_apart: bool):
    with FakeTeamServer(thinking_answer, model="gemma-4-31b-it", thought_apart=thought_apart) as fake:
        options = remote_options(fake.url, retries=0, model="gemma-4-31b-it")
        options["model"] = {**options["model"], "prompt_style": "chat", "thinking": "auto"}
        # Generous waits: a loaded 2-core machine must not turn a slow jail or hover into a failure.
        await start(bare_client, stats, {**options, "verify": {"timeoutSeconds": 120}, "hover": {"waitSeconds": 60}})
        resolved = await run_every_action(bare_client, stats)
        hover = await hover_at(bare_client, open_file(bare_client, stats / "shop" / "pricing.py"), 3, 6)
    for title in ("Gemma: Refactor apply_discount", "Gemma: Generate tests for apply_discount", "Gemma: Implement clamp", "Gemma: Fix failing test test_median_of_even_count"):
        assert resolved[title].edit is not None, resolved[title].title  # the answer after the thought was used
    comment = edit_texts(resolved["Gemma: Explain apply_discount as a comment"].edit)
    assert comment and "Reduces a price" in comment[0], resolved["Gemma: Explain apply_discount as a comment"].title
    assert hover is not None and "Reduces a price" in hover.contents.value, hover
    assert_nothing_leaked(bare_client, resolved, hover)
    explanation = next(Path(s.uri.removeprefix("file://")).read_text() for s in bare_client.shown_documents if "apply_discount" in s.uri)
    assert THOUGHT in explanation.split("<details>")[1], "the thought is folded in the explanation document"
    fix = next(Path(s.uri.removeprefix("file://")).read_text() for s in bare_client.shown_documents if "/fix-" in s.uri)
    assert THOUGHT in fix.split("<details>")[1], "and in the Fix failing test document"
    # auto: Fix failing test and Refactor think (the template's switch on), the others do not.
    thinks = ["enable_thinking" in json.dumps(b.get("chat_template_kwargs", {})) for b in fake.bodies]
    asked = [next((p for p in ANSWERS if json.dumps(p)[1:-1] in json.dumps(b)), "explain") for b in fake.bodies]
    assert {a for a, t in zip(asked, thinks) if t} == {"Refactor `apply_discount`", ") fails:"}, list(zip(asked, thinks))
    refactor_thought = "".join(p.get("thinking", "") for p in bare_client.stream if p["title"].startswith("Refactoring"))
    assert THOUGHT in refactor_thought, [(p["title"], sorted(p)) for p in bare_client.stream]


async def test_an_answer_cut_off_inside_the_thought_says_so(bare_client: LanguageClient, stats: Path):
    with FakeTeamServer(lambda body: f"<|channel>thought\n{THOUGHT} and then") as fake:
        options = remote_options(fake.url, retries=0)
        options["model"] = {**options["model"], "prompt_style": "chat"}
        await start(bare_client, stats, options)
        pricing = open_file(bare_client, stats / "shop" / "pricing.py")
        action = next(a for a in await actions_at(bare_client, pricing, 5) if a.title == "Gemma: Explain apply_discount")
        await bare_client.code_action_resolve_async(action)
    document = Path(bare_client.shown_documents[-1].uri.removeprefix("file://")).read_text()
    assert "ran out of tokens while it was still thinking" in document.split("<details>")[0]
    assert any("still thinking" in m.message for m in bare_client.messages)


def _bundled() -> Path:
    from lsp_server.model.resolve import bundled_model_path

    return bundled_model_path()


def _cancel():
    from lsp_server.model.backend import CancelToken

    return CancelToken()


def test_doctor_says_the_gemma4_file_is_prompted_in_chat_and_can_think(gemma4_gguf: Path):
    from tests.e2e.test_cli import gemma_lsp

    result = gemma_lsp("doctor", "--json", "--n-ctx", "512", "--model", str(gemma4_gguf))
    assert result.returncode == 0, result.stderr
    model = json.loads(result.stdout)["model"]
    assert (model["architecture"], model["chat_template"], model["prompt_style"], model["thinking"]) == ("gemma4", True, "chat", True)
