"""What accounts add to Django's user: the email address a user has proved to read."""

from django.conf import settings
from django.db import models


class VerifiedEmail(models.Model):
    """The address whose confirmation link the user opened. The account counts as verified
    only while this is still its email address (changing the address asks again)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="verified_email"
    )
    email = models.EmailField()
    verified_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.email} ({self.user})"


class LanguagePreference(models.Model):
    """The interface language a user chose with the language switch; it follows them to
    every browser they log in from (accounts.middleware.UserLocaleMiddleware)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="language_preference"
    )
    language = models.CharField(max_length=16, choices=settings.LANGUAGES)

    def __str__(self) -> str:
        return f"{self.user}: {self.language}"
