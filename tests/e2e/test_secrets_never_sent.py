"""Issue 17: a secret file's text never reaches the backend, on every path that reads workspace
text for a prompt. The witness is a fake team server on loopback that records every prompt: each
test checks that it was asked (so the test can fail) and that the secret file's canary was not.

The workspace gets ``shop/db_secret.py`` (secret by its name; its code holds the canary), a
non-secret ``shop/orders.py`` that imports and calls it, and a test whose traceback passes
through it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from pytest_lsp import LanguageClient

from tests.e2e.conftest import open_file, remote_options, start
from tests.e2e.fake_team_server import FakeTeamServer
from tests.e2e.test_explain import actions_at
from tests.e2e.test_hover import hover_at
from tests.e2e.test_on_save import record_and_apply, save, wait_for

pytestmark = pytest.mark.e2e
CANARY = f"CANARY-{uuid.uuid4().hex[:12]}"
SECRET = f'''"""Database access."""

DSN = "postgresql://shop:{CANARY}@db.internal/shop"


def connect(dsn=DSN):
    """Open the shop database ({CANARY})."""
    raise ConnectionError("cannot reach " + dsn)
'''
ORDERS = '''"""Orders."""

from shop.db_secret import connect


def place_order(cart):
    """Store the order; its number."""
    connection = connect()
    return connection.insert(cart)


def reorder(cart):
    """Place the order of ``cart`` again."""
    raise NotImplementedError
'''
PLACE_ORDER_LINE, CONNECT_CALL, REORDER_LINE = 7, (7, 18), 13  # 0-based, in ORDERS
TESTS = "from shop.orders import place_order\n\n\ndef test_place_order():\n    assert place_order([]) == 1\n"
ANSWERS = {  # a plausible answer per action, by a phrase of its prompt
    "Write pytest tests": "```python\nimport pytest\nfrom shop.orders import place_order\n\n\n"
    "def test_place_order_needs_the_database():\n    with pytest.raises(ConnectionError):\n        place_order([])\n```\n",
    "Implement `reorder`": "```python\ndef reorder(cart):\n    return place_order(cart)\n```\n",
    ") fails:": "`place_order` needs a database the test does not have.\n```python\ndef place_order(cart):\n    return 1\n```\n",
}
DEFAULT_ANSWER = "Stores the order through a database connection.\n```python\ndef place_order(cart):\n    return connect().insert(cart)\n```\n"


def answer(body: dict) -> str:
    prompt = json.dumps(body)
    return next((text for phrase, text in ANSWERS.items() if json.dumps(phrase)[1:-1] in prompt), DEFAULT_ANSWER)


@pytest.fixture
def shop(workspace: Path) -> Path:
    (workspace / "shop" / "db_secret.py").write_text(SECRET)
    (workspace / "shop" / "orders.py").write_text(ORDERS)
    (workspace / "tests" / "test_orders.py").write_text(TESTS)
    return workspace


@pytest.fixture
def fake():
    with FakeTeamServer(answer) as server:
        yield server


async def start_on(client: LanguageClient, workspace: Path, fake: FakeTeamServer, **settings) -> str:
    """The server on the fake team server, with the secret file open too (so the server holds its
    text, not only the disk); returns the uri of orders.py."""
    options = remote_options(fake.url, retries=0)
    options["model"] = {**options["model"], "prompt_style": "chat"}
    await start(client, workspace, {**options, "verify": {"timeoutSeconds": 60}, **settings})
    open_file(client, workspace / "shop" / "db_secret.py")
    return open_file(client, workspace / "shop" / "orders.py")


def assert_asked_without_the_secret(fake: FakeTeamServer) -> None:
    assert fake.prompts, "the team server was asked"
    assert CANARY not in fake.all_text(), "the secret file's text reached the backend"


async def resolve(client: LanguageClient, uri: str, line: int, title: str):
    return await client.code_action_resolve_async(next(a for a in await actions_at(client, uri, line) if a.title == title))


@pytest.mark.parametrize("title, line", [
    ("Gemma: Explain place_order", PLACE_ORDER_LINE),
    ("Gemma: Explain place_order as a comment", PLACE_ORDER_LINE),
    ("Gemma: Refactor place_order", PLACE_ORDER_LINE),
    ("Gemma: Generate tests for place_order", PLACE_ORDER_LINE),
    ("Gemma: Implement reorder", REORDER_LINE),
])
async def test_actions_on_code_calling_the_secret_function_pack_none_of_it(bare_client: LanguageClient, shop: Path, fake, title: str, line: int):
    uri = await start_on(bare_client, shop, fake)
    await resolve(bare_client, uri, line, title)
    assert_asked_without_the_secret(fake)


async def test_the_witness_sees_the_canary_when_the_file_is_allowed(bare_client: LanguageClient, shop: Path, fake):
    """The control: the same Explain, with db_secret.py allowed, does send its code."""
    (shop / ".gemma-lsp-secrets").write_text("!db_secret.py\n")
    uri = await start_on(bare_client, shop, fake)
    await resolve(bare_client, uri, PLACE_ORDER_LINE, "Gemma: Explain place_order")
    assert CANARY in fake.all_text()


async def test_hover_explains_no_secret_code(bare_client: LanguageClient, shop: Path, fake):
    uri = await start_on(bare_client, shop, fake, hover={"waitSeconds": 5})
    secret_uri = (shop / "shop" / "db_secret.py").as_uri()
    over_definition = await hover_at(bare_client, secret_uri, 5, 5)  # def connect, in the secret file
    assert over_definition is not None and "---" not in over_definition.contents.value, "facts only, no explanation"
    over_call = await hover_at(bare_client, uri, *CONNECT_CALL)  # connect() called from orders.py
    assert over_call is None or "---" not in over_call.contents.value
    explained = await hover_at(bare_client, uri, 5, 5)  # place_order: explained by the model
    assert "---" in explained.contents.value
    assert_asked_without_the_secret(fake)


async def test_fix_failing_test_through_the_secret_file(bare_client: LanguageClient, shop: Path, fake):
    await start_on(bare_client, shop, fake)
    await resolve(bare_client, open_file(bare_client, shop / "tests" / "test_orders.py"), 4, "Gemma: Fix failing test test_place_order")
    shown = Path(bare_client.shown_documents[-1].uri.removeprefix("file://")).read_text()
    assert "shop/db_secret.py" in shown, "the traceback passed through the secret file"
    assert_asked_without_the_secret(fake)


async def test_on_save_asks_no_model_and_keeps_the_secret_modules_stubs(bare_client: LanguageClient, shop: Path, fake):
    """Stubs on save are written without the model; a secret module's test file (secret too) is
    appended to, not written over, on the next save."""
    applied = record_and_apply(bare_client)
    uri = await start_on(bare_client, shop, fake)
    save(bare_client, uri, shop / "shop" / "orders.py", ORDERS + "\n\ndef cancel_order(number):\n    return connect().delete(number)\n", 2)
    secret, secret_uri = shop / "shop" / "db_secret.py", (shop / "shop" / "db_secret.py").as_uri()
    save(bare_client, secret_uri, secret, SECRET + "\n\ndef close():\n    pass\n", 2)
    await wait_for(applied, 2)
    stubs = shop / "tests" / "test_db_secret.py"
    first = stubs.read_text()
    save(bare_client, secret_uri, secret, SECRET + "\n\ndef close():\n    pass\n\n\ndef reset():\n    pass\n", 3)
    await wait_for(applied, 3)
    assert stubs.read_text().startswith(first) and "def test_reset(" in stubs.read_text(), stubs.read_text()
    assert not fake.prompts


def test_the_context_command_packs_no_secret_code(shop: Path):
    (shop / "pyproject.toml").write_text('[project]\nname = "shop"\n')  # the workspace root for the CLI

    def context(location: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "lsp_server", "context", location, "--text"], check=False, cwd=shop, capture_output=True, text=True, timeout=120)

    packed = context(f"shop/orders.py:{PLACE_ORDER_LINE + 1}")
    assert packed.returncode == 0 and "place_order" in packed.stdout, packed.stderr
    assert CANARY not in packed.stdout
    refused = context("shop/db_secret.py:7")
    assert refused.returncode != 0 and "does not send db_secret.py" in refused.stderr and CANARY not in refused.stdout
