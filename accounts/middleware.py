"""The interface language: a logged-in user's saved choice first, then Django's own order
(the language cookie, then the browser's Accept-Language)."""

from __future__ import annotations

from django.middleware.locale import LocaleMiddleware
from django.utils import translation


def saved_language(user) -> str | None:
    """The language the user chose with the switch, if they ever did."""
    if not getattr(user, "is_authenticated", False):
        return None
    from accounts.models import LanguagePreference

    return (
        LanguagePreference.objects.filter(user_id=user.pk)
        .values_list("language", flat=True)
        .first()
    )


class UserLocaleMiddleware(LocaleMiddleware):
    def process_request(self, request):
        language = saved_language(request.user)
        if language and translation.check_for_language(language):
            translation.activate(language)
            request.LANGUAGE_CODE = translation.get_language()
            return
        super().process_request(request)
