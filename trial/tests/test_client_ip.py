"""The client's address behind trusted proxies (trial.net), and the throttles that use it."""

import ipaddress
import secrets

import pytest
from django.test import RequestFactory
from django.urls import reverse

from conftest import TEST_PASSWORD
from trial.net import client_ip

PROXY = "172.16.0.1"


def _request(xff: str | None, remote: str = PROXY):
    meta = {"REMOTE_ADDR": remote}
    if xff is not None:
        meta["HTTP_X_FORWARDED_FOR"] = xff
    return RequestFactory().get("/", **meta)


CLIENT_IPS = [
    # (trusted proxies, X-Forwarded-For, REMOTE_ADDR, expected)
    pytest.param(0, None, PROXY, PROXY, id="none-trusted-no-header"),
    pytest.param(0, "203.0.113.7", PROXY, PROXY, id="none-trusted-header-ignored"),
    pytest.param(0, "garbage", PROXY, PROXY, id="none-trusted-garbage-ignored"),
    pytest.param(1, "203.0.113.7", PROXY, "203.0.113.7", id="one-proxy"),
    pytest.param(1, " 203.0.113.7 ", PROXY, "203.0.113.7", id="spaces"),
    pytest.param(1, "6.6.6.6, 203.0.113.7", PROXY, "203.0.113.7", id="spoofed-left"),
    pytest.param(1, "1.1.1.1,2.2.2.2, 203.0.113.7", PROXY, "203.0.113.7", id="spoofed-many"),
    pytest.param(1, "not-an-ip, 203.0.113.7", PROXY, "203.0.113.7", id="spoofed-garbage"),
    pytest.param(2, "6.6.6.6, 203.0.113.7, 10.0.0.2", PROXY, "203.0.113.7", id="two-proxies"),
    pytest.param(2, "203.0.113.7, 10.0.0.2", PROXY, "203.0.113.7", id="two-exactly"),
    pytest.param(1, None, PROXY, PROXY, id="missing-header"),
    pytest.param(1, "", PROXY, PROXY, id="empty-header"),
    pytest.param(1, "   ", PROXY, PROXY, id="blank-header"),
    pytest.param(2, "203.0.113.7", PROXY, PROXY, id="shorter-than-trusted"),
    pytest.param(3, "1.1.1.1, 2.2.2.2", PROXY, PROXY, id="shorter-by-one"),
    pytest.param(1, "unknown", PROXY, PROXY, id="not-an-address"),
    pytest.param(1, "203.0.113.7, ", PROXY, PROXY, id="empty-last-entry"),
    pytest.param(1, ", 203.0.113.7", PROXY, "203.0.113.7", id="empty-left-entry"),
    pytest.param(1, "203.0.113.7:51234", PROXY, "203.0.113.7", id="ipv4-with-port"),
    pytest.param(1, "2001:DB8::1", PROXY, "2001:db8::1", id="ipv6-normalised"),
    pytest.param(1, "[2001:db8::1]:443", PROXY, "2001:db8::1", id="ipv6-bracketed-port"),
    pytest.param(1, "[2001:db8::1]", PROXY, "2001:db8::1", id="ipv6-bracketed"),
    pytest.param(1, "::ffff:203.0.113.7", PROXY, "203.0.113.7", id="ipv4-mapped"),
    pytest.param(1, "fe80::1%eth0", PROXY, PROXY, id="ipv6-zone"),
    pytest.param(1, "203.0.113.256", PROXY, PROXY, id="bad-octet"),
    pytest.param(1, "２０３.0.113.7", PROXY, PROXY, id="full-width-digits"),
    pytest.param(1, "203.0.113.7", "2001:db8::9", "203.0.113.7", id="ipv6-proxy"),
]


@pytest.mark.parametrize(("trusted", "xff", "remote", "expected"), CLIENT_IPS)
def test_client_ip(settings, trusted, xff, remote, expected):
    settings.TRUSTED_PROXY_COUNT = trusted
    assert client_ip(_request(xff, remote)) == expected


def test_client_ip_without_remote_addr(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    request = RequestFactory().get("/")
    del request.META["REMOTE_ADDR"]
    assert client_ip(request) == ""
    request.META["HTTP_X_FORWARDED_FOR"] = "203.0.113.7"
    assert client_ip(request) == "203.0.113.7"


def test_the_throttles_are_wired_to_client_ip(settings):
    from axes.helpers import get_client_ip_address
    from django_ratelimit.core import _get_ip

    settings.TRUSTED_PROXY_COUNT = 1
    request = _request("6.6.6.6, 203.0.113.7")
    assert _get_ip(request) == "203.0.113.7"
    assert get_client_ip_address(request) == "203.0.113.7"


# --------------------------------------------------------------------------- the throttles


def _fresh_addresses(n: int) -> list[str]:
    # Counters live in the shared cache (Redis in CI) for a minute: fresh addresses
    # keep this run's counts apart from any earlier run's and from other tests'.
    base = int(ipaddress.IPv4Address("10.0.0.0")) + secrets.randbelow(2**24 - n)
    return [str(ipaddress.IPv4Address(base + i)) for i in range(n)]


def _login(client, url, *, remote, xff=None, username="nobody", password="x"):  # noqa: S107
    meta = {"REMOTE_ADDR": remote}
    if xff is not None:
        meta["HTTP_X_FORWARDED_FOR"] = xff
    return client.post(url, {"username": username, "password": password}, **meta)


@pytest.mark.django_db
@pytest.mark.parametrize("url_name", ["login", "admin:login"])
def test_clients_behind_one_proxy_are_limited_separately(client, settings, url_name):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.LOGIN_RATE = "3/m"
    proxy, alice, bob = _fresh_addresses(3)
    url = reverse(url_name)
    for n in range(3):
        assert _login(client, url, remote=proxy, xff=alice, username=f"a{n}").status_code == 200
    assert _login(client, url, remote=proxy, xff=alice, username="a9").status_code == 429
    # Forging entries to the left does not make alice somebody else.
    forged = f"{bob}, {alice}"
    assert _login(client, url, remote=proxy, xff=forged, username="a8").status_code == 429
    # Bob, behind the same proxy, has his own budget.
    assert _login(client, url, remote=proxy, xff=bob, username="b0").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("url_name", ["login", "admin:login"])
def test_without_trusted_proxies_the_header_is_ignored(client, settings, url_name):
    settings.TRUSTED_PROXY_COUNT = 0
    settings.LOGIN_RATE = "3/m"
    remote, alice, bob = _fresh_addresses(3)
    url = reverse(url_name)
    for n in range(3):
        assert _login(client, url, remote=remote, xff=alice, username=f"a{n}").status_code == 200
    # A different X-Forwarded-For is the same client: the address that connected.
    assert _login(client, url, remote=remote, xff=bob, username="b0").status_code == 429


@pytest.mark.django_db
def test_admin_login_is_rate_limited(client, settings):
    settings.LOGIN_RATE = "3/m"
    (remote,) = _fresh_addresses(1)
    url = reverse("admin:login")
    assert url == "/admin/login/"
    codes = [_login(client, url, remote=remote, username=f"user{n}").status_code for n in range(4)]
    assert codes == [200, 200, 200, 429]
    response = _login(client, url, remote=remote, username="user9")
    assert response.status_code == 429
    assert "429.html" in [template.name for template in response.templates]
    # The log-in page itself still opens (only POSTs are counted).
    assert client.get(url, REMOTE_ADDR=remote).status_code == 200


@pytest.mark.django_db
def test_lockout_is_per_client_behind_the_proxy(client, settings, nurse):
    from axes.models import AccessAttempt

    settings.TRUSTED_PROXY_COUNT = 1
    settings.LOGIN_RATE = "100/m"
    settings.AXES_FAILURE_LIMIT = 3
    proxy, attacker, colleague = _fresh_addresses(3)
    url = reverse("login")
    for _ in range(3):
        _login(client, url, remote=proxy, xff=attacker, username="nurse", password="wrong")
    locked = _login(client, url, remote=proxy, xff=attacker, username="nurse", password="wrong")
    assert locked.status_code == 429
    assert AccessAttempt.objects.filter(username="nurse", ip_address=attacker).exists()
    assert not AccessAttempt.objects.filter(ip_address=proxy).exists()
    # The nurse, behind the same proxy, still logs in: the attacker locked only themself.
    response = _login(
        client, url, remote=proxy, xff=colleague, username="nurse", password=TEST_PASSWORD
    )
    assert response.status_code == 302
