"""Which origins may open the socket: Django's CSRF origin rule, on handshake scopes."""

from __future__ import annotations

import pytest

from live.origin import origin_allowed


@pytest.fixture(autouse=True)
def site(settings):
    settings.ALLOWED_HOSTS = ["shrutik.example", "localhost"]
    settings.CSRF_TRUSTED_ORIGINS = ["https://app.example.org", "https://*.partner.example"]


def handshake(origin: str | None, *, host="shrutik.example", scheme="ws", headers=()) -> dict:
    sent = [(b"host", host.encode())] + ([(b"origin", origin.encode())] if origin else [])
    return {
        "type": "websocket",
        "path": "/ws/record/",
        "query_string": b"script=1&token=\xff",  # not UTF-8, and no matter
        "scheme": scheme,
        "server": ("10.0.0.2", 8000),
        "headers": sent + list(headers),
    }


def test_the_sites_own_origin_is_its_scheme_host_and_port():
    assert origin_allowed(handshake("http://shrutik.example"))
    assert origin_allowed(handshake("http://localhost:8000", host="localhost:8000"))
    assert origin_allowed(handshake("https://shrutik.example", scheme="wss"))
    assert not origin_allowed(handshake("https://shrutik.example"))
    assert not origin_allowed(handshake("http://shrutik.example", scheme="wss"))
    assert not origin_allowed(handshake("http://shrutik.example:8080"))
    assert not origin_allowed(handshake("http://localhost:1234", host="localhost:8000"))
    assert not origin_allowed(handshake(None))
    assert not origin_allowed(handshake("null"))


def test_behind_the_proxy_the_forwarded_scheme_counts():
    proxied = [(b"x-forwarded-proto", b"https")]
    assert origin_allowed(handshake("https://shrutik.example", headers=proxied))
    assert not origin_allowed(handshake("http://shrutik.example", headers=proxied))


def test_a_host_not_allowed_has_no_own_origin():
    # A rebound DNS name points at the server: its pages are not the site's.
    assert not origin_allowed(handshake("http://evil.example", host="evil.example"))


def test_trusted_origins_as_csrf_trusts_them():
    assert origin_allowed(handshake("https://app.example.org"))
    assert not origin_allowed(handshake("http://app.example.org"))
    assert not origin_allowed(handshake("https://app.example.org:8443"))
    assert origin_allowed(handshake("https://eu.partner.example"))
    assert origin_allowed(handshake("https://partner.example"))
    assert not origin_allowed(handshake("http://eu.partner.example"))
    assert not origin_allowed(handshake("https://partner.example.evil"))
