"""The Change... benchmark's tasks on tests/benchmarks/change_app (the ``desk`` help desk).

Each task: where the user stands (file and 1-based line), the instruction, and hidden acceptance
tests the model never sees (they are written into the copy only after the proposal is applied).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Task:
    name: str
    file: str
    line: int
    instruction: str
    hidden: str


TASKS = [
    Task("logout", "desk/auth.py", 31, "Add a logout(store, token) endpoint to auth that deletes the token, so whoami fails for it afterwards.", '''
import pytest
from desk.auth import AuthError, login, logout, whoami
from desk.store import MemoryStore


def test_logout_ends_the_token():
    store = MemoryStore()
    token = login(store, "ann", "secret", now=0)
    logout(store, token)
    with pytest.raises(AuthError):
        whoami(store, token, now=1)
'''),
    Task("rate_limit", "desk/auth.py", 13,
         "Add rate limiting to the authentication endpoints. Use the existing Redis configuration (the store). Apply stricter "
         "limits to login than to token refresh: LOGIN_RATE_LIMIT = 5 and REFRESH_RATE_LIMIT = 20 calls per user per minute, "
         "new settings in config; over the limit raise AuthError.", '''
import pytest
from desk import config
from desk.auth import AuthError, login, refresh
from desk.store import MemoryStore


def test_limits_are_settings_and_login_is_stricter():
    assert config.LOGIN_RATE_LIMIT == 5 and config.REFRESH_RATE_LIMIT == 20


def test_the_sixth_login_in_a_minute_is_refused():
    store = MemoryStore()
    for second in range(5):
        login(store, "ann", "secret", now=second)
    with pytest.raises(AuthError):
        login(store, "ann", "secret", now=6)


def test_refresh_allows_more_than_login():
    store = MemoryStore()
    token = login(store, "bob", "hunter2", now=0)
    for second in range(6):
        token = refresh(store, token, now=second + 1)
'''),
    Task("max_attempts", "desk/auth.py", 13,
         "Add a MAX_LOGIN_ATTEMPTS = 3 setting in config; after that many wrong passwords for a user, login raises AuthError "
         "even with the right password. Count the failures in the store.", '''
import pytest
from desk import config
from desk.auth import AuthError, login
from desk.store import MemoryStore


def test_locked_after_three_failures():
    assert config.MAX_LOGIN_ATTEMPTS == 3
    store = MemoryStore()
    for _ in range(3):
        with pytest.raises(AuthError):
            login(store, "ann", "wrong", now=0)
    with pytest.raises(AuthError):
        login(store, "ann", "secret", now=1)


def test_two_failures_do_not_lock():
    store = MemoryStore()
    for _ in range(2):
        with pytest.raises(AuthError):
            login(store, "ann", "wrong", now=0)
    assert login(store, "ann", "secret", now=1)
'''),
    Task("ticket_count", "desk/tickets.py", 7, "Add ticket_count(store) to tickets: how many tickets were ever created.", '''
from desk.store import MemoryStore
from desk.tickets import create_ticket, ticket_count


def test_count():
    store = MemoryStore()
    assert ticket_count(store) == 0
    create_ticket(store, "ann", "a")
    create_ticket(store, "ann", "b")
    assert ticket_count(store) == 2
'''),
    Task("title_length", "desk/tickets.py", 7, "create_ticket raises ValueError when the title is longer than the MAX_TITLE_LENGTH setting.", '''
import pytest
from desk import config
from desk.store import MemoryStore
from desk.tickets import create_ticket


def test_long_title_refused():
    with pytest.raises(ValueError):
        create_ticket(MemoryStore(), "ann", "x" * (config.MAX_TITLE_LENGTH + 1))


def test_title_at_the_limit_accepted():
    assert create_ticket(MemoryStore(), "ann", "x" * config.MAX_TITLE_LENGTH)["status"] == "open"
'''),
    Task("reopen", "desk/tickets.py", 15, "Add reopen_ticket(store, ticket_id) that sets a closed ticket's status back to open and returns it.", '''
from desk.store import MemoryStore
from desk.tickets import close_ticket, create_ticket, list_open, reopen_ticket


def test_reopen():
    store = MemoryStore()
    ticket = create_ticket(store, "ann", "a")
    close_ticket(store, ticket["id"])
    assert reopen_ticket(store, ticket["id"])["status"] == "open"
    assert [t["id"] for t in list_open(store)] == [ticket["id"]]
'''),
    Task("redis_password", "desk/config.py", 12,
         "Add a REDIS_PASSWORD setting (default None); redis_url includes it as redis://:PASSWORD@host:port/db when set.", '''
from desk import config


def test_no_password_by_default():
    assert config.REDIS_PASSWORD is None
    assert config.redis_url() == "redis://localhost:6379/0"


def test_password_in_the_url(monkeypatch):
    monkeypatch.setattr(config, "REDIS_PASSWORD", "pw")
    assert config.redis_url() == "redis://:pw@localhost:6379/0"
'''),
    Task("store_exists", "desk/store.py", 12, "Add an exists(key) method to MemoryStore: whether the key holds a value.", '''
from desk.store import MemoryStore


def test_exists():
    store = MemoryStore()
    assert not store.exists("a")
    store.set("a", 1)
    assert store.exists("a")
'''),
    Task("store_decr", "desk/store.py", 18, "Add a decr(key) method to MemoryStore, the opposite of incr.", '''
from desk.store import MemoryStore


def test_decr():
    store = MemoryStore()
    store.incr("n")
    store.incr("n")
    assert store.decr("n") == 1
    assert store.decr("m") == -1
'''),
    Task("priority", "desk/tickets.py", 7, "create_ticket takes a priority argument, 'normal' by default, and stores it in the ticket.", '''
from desk.store import MemoryStore
from desk.tickets import create_ticket


def test_priority():
    store = MemoryStore()
    assert create_ticket(store, "ann", "a")["priority"] == "normal"
    assert create_ticket(store, "ann", "b", priority="urgent")["priority"] == "urgent"
'''),
    Task("close_all", "desk/tickets.py", 23, "Add close_all(store) to tickets: close every open ticket and return how many were closed.", '''
from desk.store import MemoryStore
from desk.tickets import close_all, create_ticket, list_open


def test_close_all():
    store = MemoryStore()
    create_ticket(store, "ann", "a")
    create_ticket(store, "bob", "b")
    assert close_all(store) == 2
    assert list_open(store) == []
'''),
    Task("session_setting", "desk/auth.py", 13,
         "login accepts a remember=False argument; with remember=True the token lasts SESSION_SECONDS instead of TOKEN_SECONDS.", '''
import pytest
from desk import config
from desk.auth import AuthError, login, whoami
from desk.store import MemoryStore


def test_remembered_token_lasts_a_session():
    store = MemoryStore()
    token = login(store, "ann", "secret", now=0, remember=True)
    assert whoami(store, token, now=config.SESSION_SECONDS - 1) == "ann"


def test_plain_token_expires_sooner():
    store = MemoryStore()
    token = login(store, "ann", "secret", now=0)
    with pytest.raises(AuthError):
        whoami(store, token, now=config.TOKEN_SECONDS + 1)
'''),
]
