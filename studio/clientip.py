"""The client's address, for throttles (log-in lockouts, sign-ups).

``X-Forwarded-For`` is anyone's to write, so it is read only when ``STUDIO_TRUSTED_PROXY_COUNT``
says how many reverse proxies of ours stand in front of daphne; each appends the address it
saw, so the client is the entry that many places from the right. Without that setting, or
with a header too short or malformed, the address is the connection's own (REMOTE_ADDR).
"""

from __future__ import annotations

import ipaddress

from django.conf import settings


def client_ip(request) -> str:
    remote = request.META.get("REMOTE_ADDR", "") or ""
    hops = settings.STUDIO_TRUSTED_PROXY_COUNT
    if not hops:
        return remote
    forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [a for a in forwarded if a]
    if len(forwarded) < hops:
        return remote
    candidate = forwarded[-hops]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote
