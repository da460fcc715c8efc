"""``manage.py issue_token USER [--create]``: print a new API token for USER, alone on stdout.

Each call makes a new token (earlier ones keep working); only a digest is stored, so the
printed key cannot be shown again. A token works for STUDIO_API_TOKEN_DAYS, until the user
changes or resets the password, or until it is revoked on the profile page.
"""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from generation.models import ApiToken


class Command(BaseCommand):
    help = "Print a new API token for a user (Authorization: Token <key>)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument(
            "--create",
            action="store_true",
            help="create the user (with an unusable password) if missing",
        )

    def handle(self, *args, username: str, create: bool, **options):
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is None:
            if not create:
                raise CommandError(f"No user {username!r}; pass --create to make one.")
            user = User.objects.create_user(username=username)
            user.set_unusable_password()
            user.save()
        key = secrets.token_urlsafe(32)
        ApiToken.objects.create(user=user, digest=ApiToken.digest_of(key))
        self.stdout.write(key)
