"""A team server that answers Generate tests with attacking tests: the real server verifies them
in its jail, and nothing the attacks aim at is touched (tests/robustness/test_jail.py runs the
same attacks as root and as an ordinary user, without the editor in between)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from pytest_lsp import LanguageClient

from tests.e2e.conftest import open_file, remote_options, start
from tests.e2e.fake_team_server import FakeTeamServer
from tests.e2e.test_explain import actions_at
from tests.robustness.jail_attacks import Attacks

pytestmark = pytest.mark.e2e


async def test_generated_attacks_run_in_the_jail_and_touch_nothing(bare_client: LanguageClient, workspace: Path):
    with Attacks(workspace) as attacks:
        # Each attack names the target first: a test that exercises nothing of it would be dropped
        # as a copied example before it ran, and a hostile server can always name the target.
        module = re.sub(r"^(def test_\w+\(\):\n)", r"\1    apply_discount(100, 0)\n", attacks.module(), flags=re.M)
        answer = "Tests:\n```python\nimport pytest\nfrom shop.pricing import apply_discount\n" + module + "```\n"
        with FakeTeamServer(lambda body: answer) as fake:
            options = remote_options(fake.url, retries=0)
            options["model"] = {**options["model"], "prompt_style": "chat"}
            await start(bare_client, workspace, {**options, "verify": {"timeoutSeconds": 120}})
            uri = open_file(bare_client, workspace / "shop" / "pricing.py")
            action = next(a for a in await actions_at(bare_client, uri, 5) if a.title == "Gemma: Generate tests for apply_discount")
            resolved = await bare_client.code_action_resolve_async(action)
        time.sleep(0.5)
        traces = attacks.traces()
    assert fake.prompts, "the action asked the team server"
    assert not [name for name, trace in traces.items() if trace], traces
    # Passed in the jail: the control test, and the two attacks whose effect stays inside it (a
    # process the PID namespace ends, a file in the jail's own /tmp); no trace of them is left.
    assert resolved.edit is not None, resolved.title
    assert "3 generated tests pass, 13 fail on the current code" in resolved.title, resolved.title
