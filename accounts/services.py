"""Account state changes. Views stay thin; this is where deletion does its work."""

from __future__ import annotations

import logging
import math

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.cache import cache
from django.core.mail import send_mail
from django.db import transaction
from django.utils.translation import gettext as _

from studio.clientip import client_ip

log = logging.getLogger(__name__)


@transaction.atomic
def delete_account(*, user) -> None:
    """Delete a user with their tracks, jobs and files.

    Ratings they gave stay as anonymous evaluation data: the Rating model's foreign key to
    the user is ``SET_NULL``, so the rows outlive the account without naming anyone.
    """
    # Imported here so that accounts loads without the jobs layer's models at import time;
    # an ImportError must surface: skipping this would leave the user's files behind.
    from generation.services import delete_user_content

    delete_user_content(user=user)
    username = user.username
    get_user_model().objects.filter(pk=user.pk).delete()
    log.info("deleted account %s", username)


def save_language(*, user, language: str) -> None:
    """Remember the interface language the user chose (one of settings.LANGUAGES)."""
    from accounts.models import LanguagePreference

    if language not in dict(settings.LANGUAGES):
        raise ValueError(f"unknown language {language!r}")
    LanguagePreference.objects.update_or_create(user=user, defaults={"language": language})


# ---------------------------------------------------------------------------------------------
# email verification (required before the first job when the studio can send mail)
# ---------------------------------------------------------------------------------------------
VERIFY_SALT = "cadenza.accounts.verify-email"
VERIFY_MAX_AGE_SECONDS = 3 * 24 * 3600


def email_verified(user) -> bool:
    """Whether the user may queue jobs as far as the email address goes: always, unless
    STUDIO_REQUIRE_VERIFIED_EMAIL; then only once they opened the link sent to the address
    their account has now."""
    if not settings.STUDIO_REQUIRE_VERIFIED_EMAIL:
        return True
    from accounts.models import VerifiedEmail

    return bool(user.email) and VerifiedEmail.objects.filter(
        user=user, email__iexact=user.email).exists()


def verification_token(user) -> str:
    return signing.dumps({"user": user.pk, "email": user.email.lower()}, salt=VERIFY_SALT)


def send_verification(*, user, link_for) -> bool:
    """Mail the user a link that confirms their current address (``link_for(token)`` makes
    the URL). At most STUDIO_RESET_MAILS_PER_EMAIL such mails an hour go to one address;
    returns whether this one went."""
    if not user.email:
        return False
    if _count(f"verify-mails:email:{user.email.lower()}", SIGNUP_WINDOW_SECONDS) > \
            settings.STUDIO_RESET_MAILS_PER_EMAIL:
        return False
    send_mail(
        _("Confirm your email address for Cadenza"),
        _('Open this link to confirm that %(email)s belongs to the Cadenza account '
          '"%(username)s":\n\n%(link)s\n\nIf you did not sign up, ignore this email.\n') % {
            "email": user.email, "username": user.get_username(),
            "link": link_for(verification_token(user))},
        None,
        [user.email],
    )
    return True


def confirm_email(token: str):
    """The user whose current address the token confirms, now marked verified; None for a
    token that is forged, expired, or made for an address the account no longer has."""
    from accounts.models import VerifiedEmail

    try:
        data = signing.loads(token, salt=VERIFY_SALT, max_age=VERIFY_MAX_AGE_SECONDS)
    except signing.BadSignature:  # SignatureExpired too
        return None
    user = get_user_model().objects.filter(pk=data.get("user"), is_active=True).first()
    if user is None or user.email.lower() != data.get("email"):
        return None
    VerifiedEmail.objects.update_or_create(user=user, defaults={"email": user.email})
    return user


def revoke_api_tokens(*, user) -> int:
    """Delete all of the user's API tokens (after a password change or reset: whoever knew
    the old password may have made one); returns how many."""
    from generation.models import ApiToken

    deleted, _ = ApiToken.objects.filter(user=user).delete()
    if deleted:
        log.info("revoked %s API tokens of user %s", deleted, user.pk)
    return deleted


def revoke_api_token(*, user, token_id: int) -> None:
    """Delete one of the user's API tokens; raises ApiToken.DoesNotExist for anyone else's."""
    from generation.models import ApiToken

    ApiToken.objects.get(id=token_id, user=user).delete()


# ---------------------------------------------------------------------------------------------
# throttles, counted in the shared Redis cache so that they hold across daphne processes
# ---------------------------------------------------------------------------------------------
def _cooloff_seconds() -> int:
    return math.ceil(settings.AXES_COOLOFF_TIME * 3600)


SIGNUP_WINDOW_SECONDS = 3600  # sign-ups and password-reset mails are counted per hour


def _count(key: str, window: int | None = None) -> int:
    """Add one to a counter whose window (the cool-off unless given) starts when it is
    created; returns the new count."""
    window = window or _cooloff_seconds()
    cache.add(key, 0, timeout=window)
    try:
        return cache.incr(key)
    except ValueError:  # it expired between add and incr
        cache.set(key, 1, timeout=window)
        return 1


def take_signup_slot(address: str) -> bool:
    """Count a sign-up from ``address``; False once it has made STUDIO_SIGNUPS_PER_IP accounts
    within the hour (throw-away accounts would otherwise defeat every per-user quota)."""
    count = _count(f"signups:ip:{address}", SIGNUP_WINDOW_SECONDS)
    return count <= settings.STUDIO_SIGNUPS_PER_IP


def address_locked_out(address: str) -> bool:
    """Whether log-ins from ``address`` are paused (STUDIO_LOGIN_FAILURES_PER_IP failures
    within the cool-off, any usernames)."""
    return cache.get(f"login-failures:ip:{address}", 0) >= settings.STUDIO_LOGIN_FAILURES_PER_IP


def record_failed_login(sender=None, credentials=None, request=None, **kwargs) -> None:
    """Count a failed log-in against the client's address (a ``user_login_failed`` receiver)."""
    if request is not None:
        _count(f"login-failures:ip:{client_ip(request)}")


def take_reset_mail_slot(*, email: str, address: str) -> bool:
    """Count a password-reset request; False once the email address has been sent
    STUDIO_RESET_MAILS_PER_EMAIL, or the client address has asked STUDIO_RESET_MAILS_PER_IP
    times, within the hour (so that the form cannot be used to flood someone's inbox)."""
    per_email = _count(f"reset-mails:email:{email.strip().lower()}", SIGNUP_WINDOW_SECONDS)
    per_address = _count(f"reset-mails:ip:{address}", SIGNUP_WINDOW_SECONDS)
    return (per_email <= settings.STUDIO_RESET_MAILS_PER_EMAIL
            and per_address <= settings.STUDIO_RESET_MAILS_PER_IP)


class TooManyPasswordChecks(Exception):
    """The account's password was given wrongly too often in a row; the message says so."""


def check_password_throttled(*, user, password: str) -> bool:
    """``user.check_password`` for forms that ask a logged-in user for the password (email
    change, password change, account deletion): after AXES_FAILURE_LIMIT wrong answers in
    the cool-off, raises TooManyPasswordChecks instead of checking, so that a stolen session
    cannot be used to guess the password."""
    key = f"password-checks:user:{user.pk}"
    if cache.get(key, 0) >= settings.AXES_FAILURE_LIMIT:
        minutes = max(1, _cooloff_seconds() // 60)
        raise TooManyPasswordChecks(
            f"Too many wrong passwords. Try again in {minutes} minutes, or log out and "
            "reset your password.")
    if user.check_password(password):
        return True
    _count(key)
    return False
