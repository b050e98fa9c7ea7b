"""Protocol fuzzing against the real server process: every request is answered, nothing crashes.

Cases: known methods with random or nearly valid params (out-of-range and UTF-16 surrogate
positions, wrong types), unknown methods, notifications, garbage bodies, floods of didChange with
requests and their cancellations in between. After every case the server must still answer a
hover correctly and list the Explain action for a known document.

Size: GEMMA_FUZZ_CASES (CI: 300 cases, a fixed seed). Long runs go in batches, one fresh server
each: ``GEMMA_FUZZ_SEED=<n> GEMMA_FUZZ_CASES=10000 pytest tests/robustness/test_protocol_fuzz.py -k every``
for n = 1..10 (tests/robustness/long_runs.sh fuzz); they are recorded in RESULTS.md.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from tests.robustness.rawclient import RawClient

CASES = int(os.environ.get("GEMMA_FUZZ_CASES", "300"))
# A fixed seed by default (CI); GEMMA_FUZZ_SEED=<n> runs another reproducible batch,
# GEMMA_FUZZ_RANDOM=1 explores new cases.
SEED = os.environ.get("GEMMA_FUZZ_SEED")
WORKSPACE = Path(__file__).resolve().parents[1] / "e2e" / "workspace"
CART = (WORKSPACE / "shop" / "cart.py").as_uri()
FUZZ_URI = (WORKSPACE / "shop" / "fuzzed.py").as_uri()
METHODS = [
    "textDocument/codeAction",
    "codeAction/resolve",
    "workspace/executeCommand",
    "textDocument/didOpen",
    "textDocument/didChange",
    "textDocument/didClose",
    "textDocument/didSave",
    "workspace/didChangeConfiguration",
    "$/cancelRequest",
    "$/setTrace",
]
stats = {"cases": 0, "requests": 0, "floods": 0, "passed": 0}
# A hang is no answer within HANG_SECONDS. Some cases run the real model (a valid Explain): on
# the shared 2-core machine under load such a case once took over 60 s, answered correctly.
HANG_SECONDS = 300

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
numbers = st.integers(-5, 3) | st.integers(0, 2**31) | st.sampled_from([2**31 - 1, 2**53, -(2**31)])
positions = st.fixed_dictionaries({"line": numbers, "character": numbers})
ranges = st.fixed_dictionaries({"start": positions, "end": positions})
texts = st.text(alphabet=st.characters(codec="utf-8"), max_size=200) | st.sampled_from(["\ud800", "a\udfffb", "\x00\r\n\u2028"])
near_valid = st.one_of(
    st.fixed_dictionaries({"textDocument": st.fixed_dictionaries({"uri": st.sampled_from([CART, FUZZ_URI, "file:///nowhere/x.py", "untitled:1", ""])}), "range": ranges, "context": st.just({"diagnostics": []})}),
    st.fixed_dictionaries({"textDocument": st.fixed_dictionaries({"uri": st.just(FUZZ_URI), "languageId": st.just("python"), "version": numbers, "text": texts})}),
    st.fixed_dictionaries({"textDocument": st.fixed_dictionaries({"uri": st.just(FUZZ_URI), "version": numbers}), "contentChanges": st.lists(st.fixed_dictionaries({"range": ranges, "text": texts}) | st.fixed_dictionaries({"text": texts}), max_size=3)}),
    st.fixed_dictionaries({"title": st.text(max_size=10), "data": st.fixed_dictionaries({"action": st.sampled_from(["explain", "explain_as_comment", "x"]), "uri": st.sampled_from([CART, FUZZ_URI, 3]), "range": ranges | json_values})}),
    st.fixed_dictionaries({"command": st.sampled_from(["gemma-lsp.explain", "gemma-lsp.explainAsComment", "nope"]), "arguments": st.lists(json_values, max_size=3)}),
    st.fixed_dictionaries({"id": st.integers() | st.text(max_size=5)}),
)
cases = st.tuples(
    st.sampled_from(METHODS) | st.text(min_size=1, max_size=20),
    near_valid | json_values,
    st.booleans(),  # request (True) or notification
)
# A flood: didChange after didChange on an open document, with requests sent and not awaited,
# some of them cancelled at once (by id, also ids that were never sent).
flood_steps = st.lists(
    st.one_of(
        st.tuples(st.just("change"), st.lists(st.fixed_dictionaries({"range": ranges, "text": texts}) | st.fixed_dictionaries({"text": texts}), min_size=1, max_size=2)),
        st.tuples(st.just("request"), st.sampled_from(["textDocument/codeAction", "textDocument/hover"]), positions, st.booleans()),
        st.tuples(st.just("cancel"), st.integers(-3, 3) | st.text(max_size=4)),
    ),
    min_size=1,
    max_size=12,
)
FLOOD_URI = (WORKSPACE / "shop" / "flooded.py").as_uri()


@pytest.fixture(scope="module")
def server():
    client = RawClient()
    # The hover's model part is off: each case checks the static part, which must always come.
    options = {"model": {"n_ctx": 1024, "max_tokens": 4, "temperature": 0.0}, "hover": {"explain": False}, "index": {"git": False, "watch": False, "cache": False}}
    folder = {"uri": WORKSPACE.as_uri(), "name": "workspace"}
    client.request("initialize", {"processId": None, "rootUri": WORKSPACE.as_uri(), "workspaceFolders": [folder], "capabilities": {}, "initializationOptions": options}, timeout=HANG_SECONDS)
    client.notify("initialized", {})
    client.notify("textDocument/didOpen", {"textDocument": {"uri": CART, "languageId": "python", "version": 1, "text": (WORKSPACE / "shop" / "cart.py").read_text()}})
    yield client
    alive = client.alive()
    client.close()
    print(f"\nprotocol fuzz: {stats['cases']} cases run ({stats['floods']} didChange floods), {stats['passed']} passed every check, "
          f"{stats['requests']} requests answered; server {'alive' if alive else 'DEAD'} at the end")


def assert_alive(client: RawClient) -> None:
    reply = client.request("textDocument/codeAction", {"textDocument": {"uri": CART}, "range": {"start": {"line": 12, "character": 8}, "end": {"line": 12, "character": 8}}, "context": {"diagnostics": []}}, timeout=HANG_SECONDS)
    titles = [action["title"] for action in reply.get("result") or []]
    assert "Gemma: Explain Cart.total" in titles, reply
    hover = client.request("textDocument/hover", {"textDocument": {"uri": CART}, "position": {"line": 12, "character": 8}}, timeout=HANG_SECONDS)
    assert "def total(self, discount=0):" in ((hover.get("result") or {}).get("contents") or {}).get("value", ""), hover


def fuzz_settings(test):
    test = settings(max_examples=CASES, deadline=None, derandomize=SEED is None and not os.environ.get("GEMMA_FUZZ_RANDOM"), database=None, phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))(test)
    return seed(int(SEED))(test) if SEED is not None else test


@fuzz_settings
@given(case=st.integers(0, 9).flatmap(lambda k: st.tuples(st.just("flood"), flood_steps, st.just(False)) if k == 0 else cases))
def test_every_message_is_survived_and_every_request_answered(server: RawClient, case):
    method, params, is_request = case
    stats["cases"] += 1
    if method == "flood":
        flood(server, params)
    elif is_request:
        reply = server.request(method, params, timeout=HANG_SECONDS)
        assert "result" in reply or "error" in reply
        stats["requests"] += 1
    else:
        server.notify(method, params)
    assert server.alive()
    assert_alive(server)
    stats["passed"] += 1


def flood(server: RawClient, steps) -> None:
    """Send the whole flood without waiting, then collect every answer."""
    stats["floods"] += 1
    server.notify("textDocument/didOpen", {"textDocument": {"uri": FLOOD_URI, "languageId": "python", "version": 1, "text": "def f(x):\n    return x\n"}})
    version, sent = 1, []
    for step in steps:
        if step[0] == "change":
            version += 1
            server.notify("textDocument/didChange", {"textDocument": {"uri": FLOOD_URI, "version": version}, "contentChanges": step[1]})
        elif step[0] == "request":
            _, method, position, cancel = step
            params = {"textDocument": {"uri": FLOOD_URI}, "position": position} if method.endswith("hover") else {"textDocument": {"uri": FLOOD_URI}, "range": {"start": position, "end": position}, "context": {"diagnostics": []}}
            sent.append(server.send_request(method, params))
            if cancel:
                server.notify("$/cancelRequest", {"id": sent[-1]})
        else:
            server.notify("$/cancelRequest", {"id": step[1]})
    for msg_id in sent:
        reply = server.wait_response(msg_id, timeout=HANG_SECONDS)
        assert "result" in reply or "error" in reply
        stats["requests"] += 1
    server.notify("textDocument/didClose", {"textDocument": {"uri": FLOOD_URI}})


@pytest.mark.parametrize("body", [b"{not json", b"[]", b"null", b'{"jsonrpc": "2.0"}', b'{"jsonrpc": "1.0", "id": 1, "method": "x"}', "\u00e9".encode("latin-1"), b"\xff\xfe"])
def test_garbage_bodies_are_survived(server: RawClient, body: bytes):
    server.send_bytes(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    assert_alive(server)


def test_a_header_block_without_length_is_skipped(server: RawClient):
    server.send_bytes(b"X-Nonsense: yes\r\n\r\n")
    assert_alive(server)


def test_a_huge_message_is_answered(server: RawClient):
    text = "x = 1\n" * 400_000  # 2.4 MB document
    server.notify("textDocument/didOpen", {"textDocument": {"uri": FUZZ_URI, "languageId": "python", "version": 1, "text": text}})
    reply = server.request("textDocument/codeAction", {"textDocument": {"uri": FUZZ_URI}, "range": {"start": {"line": 5, "character": 0}, "end": {"line": 5, "character": 0}}, "context": {"diagnostics": []}}, timeout=HANG_SECONDS)
    assert reply.get("result") == [] or "error" in reply
    assert_alive(server)


def test_requests_before_initialize_are_refused_and_initialize_still_works():
    client = RawClient()
    try:
        early = client.request("textDocument/hover", {"textDocument": {"uri": CART}, "position": {"line": 12, "character": 8}})
        assert early["error"]["code"] == -32002 and "initialize" in early["error"]["message"]
        client.notify("textDocument/didOpen", {"textDocument": {"uri": CART, "languageId": "python", "version": 1, "text": "x = 1\n"}})
        client.request("initialize", {"processId": None, "rootUri": WORKSPACE.as_uri(), "capabilities": {}, "initializationOptions": {"hover": {"explain": False}}}, timeout=HANG_SECONDS)
        client.notify("initialized", {})
        client.notify("textDocument/didOpen", {"textDocument": {"uri": CART, "languageId": "python", "version": 1, "text": (WORKSPACE / "shop" / "cart.py").read_text()}})
        assert_alive(client)
    finally:
        client.close()


def test_requests_after_shutdown_are_refused_and_exit_ends_the_process():
    client = RawClient()
    client.request("initialize", {"processId": None, "rootUri": None, "capabilities": {}}, timeout=HANG_SECONDS)
    client.notify("initialized", {})
    assert "error" not in client.request("shutdown", None)
    client.send({"jsonrpc": "2.0", "id": "late", "method": "textDocument/codeAction", "params": {}})
    client.notify("exit", None)
    assert client.process.wait(timeout=10) == 0
