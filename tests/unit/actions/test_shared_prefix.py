"""Each action's request says how much of it other targets of the file share: exactly its header
and the file-ranked part of the context (pack.py's ``stable_items``), in both prompt styles."""

from dataclasses import replace
from pathlib import Path

import pytest

from lsp_server.actions import explain, generate_tests, implement, prompts, refactor
from lsp_server.context.pack import ContextItem, PackedContext
from lsp_server.context.target import Target

TARGET = Target(Path("/w/app.py"), "run", "function", 3, 4, "def run():\n    raise NotImplementedError\n", None)
ITEMS = [ContextItem("lib.py: helper", "def helper():\n    return 1\n", "used by this file"),
         ContextItem("app.py (current file)", "import lib\n\ndef run():\n    raise NotImplementedError\n", "the file", "current file"),
         ContextItem("t.py: only_run", "def only_run():\n    pass\n", "used by the target")]
PLAN = generate_tests.TestPlan("app", "run", Path("/w/tests/test_app.py"), ["zero"])
BUILDERS = {
    "explain": lambda packed, style: explain.build_request(packed, style, 64, 0.0),
    "refactor": lambda packed, style: refactor.build_request(packed, None, style, 64, 0.0),
    "implement": lambda packed, style: implement.build_request(packed, style, 64, 0.0),
    "generate_tests": lambda packed, style: generate_tests.build_request(packed, PLAN, style, 64, 0.0),
}


@pytest.mark.parametrize("style", ["chat", "completion"])
@pytest.mark.parametrize("action", sorted(BUILDERS))
def test_the_shared_part_ends_where_the_file_ranked_context_ends(action, style):
    packed = PackedContext(TARGET, ITEMS, stable_items=2)
    request = BUILDERS[action](packed, style)
    prompt = request.text if style == "completion" else request.messages[-1].content
    render = prompts.context_completion if style == "completion" else prompts.context_markdown
    shared = render(replace(packed, items=ITEMS[:2]))
    assert prompt[: request.shared_chars].endswith(shared) and shared in prompt
    other = BUILDERS[action](replace(packed, target=replace(TARGET, name="stop", text="def stop():\n    pass\n"),
                                     items=[*ITEMS[:2], ContextItem("s.py: x", "x = 1\n", "r")]), style)
    other_prompt = other.text if style == "completion" else other.messages[-1].content
    assert other_prompt[: other.shared_chars] == prompt[: request.shared_chars]  # another target shares it
    assert BUILDERS[action](replace(packed, stable_items=0), style).shared_chars == 0
