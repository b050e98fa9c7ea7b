"""The destination guarantee: code goes to a remote engine only where the settings say.

A loopback URL (127.0.0.0/8, ::1, ``localhost``) is allowed by setting it; any other host must be
listed in ``remote.allowed_hosts``. This module only reads URLs: it never opens a connection.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from collections.abc import Iterable
from urllib.parse import urlsplit

from lsp_server.errors import GemmaLspError

LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


class RemoteNotAllowed(GemmaLspError):
    """A remote backend URL names a host that the settings do not allow."""


@dataclass(frozen=True)
class Destination:
    url: str
    host: str
    port: int
    loopback: bool

    def describe(self) -> str:
        where = "this machine (loopback)" if self.loopback else f"the host {self.host}"
        return f"{self.url} on {where}"


def is_loopback(host: str) -> bool:
    """True for ``localhost`` names, 127.0.0.0/8 and ::1; no name is resolved (DNS could lie)."""
    name = host.strip("[]").lower().rstrip(".")
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_destination(url: str, allowed_hosts: Iterable[str]) -> Destination:
    """The parsed destination of ``url``, or RemoteNotAllowed saying which setting to change."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RemoteNotAllowed(
            f"remote.url {url!r} is not an http(s) URL with a host; set it to the server's OpenAI API base, "
            "e.g. http://127.0.0.1:8080/v1."
        )
    host = parts.hostname.lower().rstrip(".")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise RemoteNotAllowed(f"remote.url {url!r} has an invalid port ({exc}); fix remote.url.") from exc
    loopback = is_loopback(host)
    if not loopback and host not in {h.strip().lower().rstrip(".") for h in allowed_hosts}:
        raise RemoteNotAllowed(
            f"gemma-lsp refuses to send code to {host}: it is not this machine and not in remote.allowed_hosts. "
            f"If {host} is your team's server, add \"{host}\" to remote.allowed_hosts; otherwise fix remote.url."
        )
    return Destination(url=url.strip().rstrip("/"), host=host, port=port, loopback=loopback)
