import pytest

from desk.auth import AuthError, login, refresh, whoami
from desk.store import MemoryStore


def test_login_and_whoami():
    store = MemoryStore()
    token = login(store, "ann", "secret", now=100)
    assert whoami(store, token, now=200) == "ann"


def test_wrong_password():
    with pytest.raises(AuthError):
        login(MemoryStore(), "ann", "nope", now=0)


def test_refresh_replaces_the_token():
    store = MemoryStore()
    token = login(store, "bob", "hunter2", now=0)
    new = refresh(store, token, now=10)
    assert whoami(store, new, now=20) == "bob"
    with pytest.raises(AuthError):
        whoami(store, token, now=20)
