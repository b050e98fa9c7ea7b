"""The authentication endpoints: log in, refresh a token, ask who a token belongs to."""

from desk import config

USERS = {"ann": "secret", "bob": "hunter2"}


class AuthError(Exception):
    """Wrong credentials or an unknown, expired token."""


def login(store, username, password, now):
    """A new token for ``username``, valid for config.TOKEN_SECONDS from ``now``."""
    if USERS.get(username) != password:
        raise AuthError("wrong user name or password")
    token = f"{username}-{now}"
    store.set(f"token:{token}", (username, now + config.TOKEN_SECONDS))
    return token


def refresh(store, token, now):
    """A fresh token for the owner of ``token``; the old one stops working."""
    username = whoami(store, token, now)
    store.delete(f"token:{token}")
    new_token = f"{username}-{now}-r"
    store.set(f"token:{new_token}", (username, now + config.TOKEN_SECONDS))
    return new_token


def whoami(store, token, now):
    """The user a valid token belongs to."""
    entry = store.get(f"token:{token}")
    if entry is None or entry[1] < now:
        raise AuthError("unknown or expired token")
    return entry[0]
