"""The destination allowlist: loopback by setting it, any other host only when listed."""

from __future__ import annotations

import pytest

from lsp_server.assistant import destination
from lsp_server.config import settings_from_mapping
from lsp_server.privacy.egress import RemoteNotAllowed, check_destination, is_loopback


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "127.3.2.1", "localhost", "LOCALHOST", "localhost.", "[::1]", "::1"],
)
def test_loopback_hosts(host):
    assert is_loopback(host)


@pytest.mark.parametrize(
    "host",
    ["10.0.0.1", "192.168.1.5", "0.0.0.0", "::", "gpu-box", "localhost.evil.example", "127.0.0.1.nip.example", "[::ffff:8.8.8.8]"],
)
def test_other_hosts_are_not_loopback(host):
    assert not is_loopback(host)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/v1", "http://localhost:8000/v1/", "https://[::1]:8443/v1"])
def test_loopback_url_is_allowed_without_a_list(url):
    where = check_destination(url, ())
    assert where.loopback
    assert not where.url.endswith("/")


def test_other_host_is_refused_unless_listed():
    with pytest.raises(RemoteNotAllowed, match=r"remote.allowed_hosts") as refused:
        check_destination("https://gpu-box.internal:8000/v1", ())
    assert "gpu-box.internal" in str(refused.value)
    where = check_destination("https://GPU-box.internal:8000/v1", ["gpu-box.internal"])
    assert (where.host, where.port, where.loopback) == ("gpu-box.internal", 8000, False)


def test_listing_another_host_does_not_allow_this_one():
    with pytest.raises(RemoteNotAllowed):
        check_destination("http://gpu-box.internal.attacker.example/v1", ["gpu-box.internal"])


def test_userinfo_cannot_disguise_the_host():
    with pytest.raises(RemoteNotAllowed, match="attacker.example"):
        check_destination("http://127.0.0.1@attacker.example/v1", ())


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/v1", "127.0.0.1:8080", "", "http:///v1", "http://127.0.0.1:99999/v1"])
def test_malformed_urls_are_refused_with_what_to_set(url):
    with pytest.raises(RemoteNotAllowed, match="remote.url"):
        check_destination(url, ())


def test_default_settings_send_nothing_anywhere():
    settings, problems = settings_from_mapping({})
    assert not problems and settings.backend == "llama_cpp"
    assert destination(settings) is None


def test_settings_reach_the_check():
    settings, problems = settings_from_mapping(
        {"backend": "openai", "remote": {"url": "http://gpu-box:8000/v1", "allowedHosts": ["gpu-box"]}}
    )
    assert not problems
    assert destination(settings).host == "gpu-box"
    refused, _ = settings_from_mapping({"backend": "openai", "remote": {"url": "http://gpu-box:8000/v1"}})
    with pytest.raises(RemoteNotAllowed):
        destination(refused)


def test_a_bad_allowed_hosts_value_is_reported_and_ignored():
    settings, problems = settings_from_mapping({"remote": {"allowed_hosts": "gpu-box"}})
    assert settings.remote.allowed_hosts == ()
    assert problems and "allowed_hosts" in problems[0]
