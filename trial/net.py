"""The client's address as the throttles see it (django-ratelimit and django-axes).

Behind the TLS proxy the README asks for, REMOTE_ADDR is the proxy's address for
everybody, so limits keyed on it are one limit for all users: one attacker
locks everyone out. Each proxy appends the address it received the request
from to X-Forwarded-For, so with ``TRUSTED_PROXY_COUNT`` = N proxies of our
own, the N-th address from the right is the one the outermost of them saw.
Everything to the left of it came from the client and may be forged, so it is
never read.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings


def _address(text: str) -> str | None:
    """The address in one X-Forwarded-For entry, normalised; None when it is not one.

    Accepts ``1.2.3.4``, ``1.2.3.4:port``, ``2001:db8::1`` and ``[2001:db8::1]:port``
    (some proxies add the port). An IPv4 address written as IPv6 (``::ffff:1.2.3.4``)
    is given as IPv4, so it is not masked with the IPv6 /64 of the rate limits.
    """
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:  # a link-local zone is nobody's public address
            return None
        if address.ipv4_mapped is not None:
            address = address.ipv4_mapped
    return str(address)


def client_ip(request) -> str:
    """The address of the client that reached our outermost trusted proxy.

    With ``TRUSTED_PROXY_COUNT`` 0 (the default: clients connect directly) this is
    REMOTE_ADDR and X-Forwarded-For is ignored. With N, it is the N-th entry from
    the right of X-Forwarded-For; REMOTE_ADDR when the header is missing, has
    fewer than N entries, or that entry is not an address.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    trusted = settings.TRUSTED_PROXY_COUNT
    if trusted <= 0:
        return remote
    header = request.META.get("HTTP_X_FORWARDED_FOR", "")
    # Entries are counted by position, empty ones too: skipping an empty entry a
    # proxy wrote would move the count into the part the client wrote.
    hops = header.split(",") if header.strip() else []
    if len(hops) < trusted:
        return remote
    return _address(hops[-trusted]) or remote
