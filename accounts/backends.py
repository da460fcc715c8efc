"""An authentication backend that only refuses: log-ins from an address that has failed too
often, whatever the usernames (django-axes locks the (username, address) pair; this is the
higher limit per address, against one address guessing many accounts)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

from accounts.services import address_locked_out
from studio.clientip import client_ip


class LoginAddressLimit:
    """Only ``authenticate``: no ``get_user``, so that Django never picks this backend to
    keep a session (``force_login`` takes the first backend that has one)."""

    def authenticate(self, request, **credentials):
        if request is not None and address_locked_out(client_ip(request)):
            request.axes_locked_out = True  # axes' middleware answers with its lockout page
            raise PermissionDenied("too many failed log-ins from this address")
        return None
