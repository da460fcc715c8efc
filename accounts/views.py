from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.forms import DeleteAccountForm, ProfileForm, SignUpForm
from accounts.services import (
    confirm_email,
    delete_account,
    email_verified,
    revoke_api_token,
    save_language,
    send_verification,
    take_signup_slot,
)
from studio.clientip import client_ip


@require_http_methods(["GET", "POST"])
def signup(request):
    if request.user.is_authenticated:
        return redirect("home")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if not take_signup_slot(client_ip(request)):
            form.add_error(None, _("Too many new accounts from your address in the last "
                                   "hour; please try again later."))
            return render(request, "registration/signup.html", {"form": form}, status=429)
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, _("Welcome to Cadenza, %(name)s!") % {"name": user.username})
        if not email_verified(user):
            send_verification(user=user, link_for=_link_maker(request))
            messages.info(request, _("We sent a link to %(email)s: open it to confirm the "
                                     "address before your first track.") % {"email": user.email})
        return redirect(first_compose_url())
    return render(request, "registration/signup.html", {"form": form})


def first_compose_url() -> str:
    """Where a new account lands: the compose page with an example mood, in the visitor's
    language, already filled in (so their first click can be Generate)."""
    from urllib.parse import urlencode

    from studio.forms import MOOD_EXAMPLES

    return f"{reverse('studio:compose')}?{urlencode({'mood': str(MOOD_EXAMPLES[0])})}"


@login_required
@require_http_methods(["GET", "POST"])
def profile(request):
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        messages.success(request, _("Your profile was saved."))
        if "email" in form.changed_data and not email_verified(user):
            send_verification(user=user, link_for=_link_maker(request))
            messages.info(request, _("We sent a link to %(email)s to confirm it.")
                          % {"email": user.email})
        return redirect("profile")
    return render(request, "accounts/profile.html", {
        "form": form,
        "tokens": request.user.api_tokens.order_by("-created_at"),
        "now": timezone.now(),
        "email_verified": email_verified(request.user),
    })


@login_required
@require_POST
def revoke_token(request, token_id: int):
    from generation.models import ApiToken

    try:
        revoke_api_token(user=request.user, token_id=token_id)
    except ApiToken.DoesNotExist:
        raise Http404("No such token.") from None
    messages.success(request, _("The API token was revoked."))
    return redirect("profile")


@login_required
@require_http_methods(["GET", "POST"])
def delete(request):
    form = DeleteAccountForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        user = request.user
        logout(request)
        delete_account(user=user)
        messages.info(request, _("Your account and your tracks were deleted."))
        return redirect("home")
    return render(request, "accounts/delete.html", {"form": form})


def _link_maker(request):
    return lambda token: request.build_absolute_uri(reverse("verify_email", args=[token]))


@require_POST
def set_language(request):
    """Django's language switch, and for a logged-in user the choice is also saved, so the
    studio speaks it on every browser they log in from."""
    from django.views.i18n import set_language as django_set_language

    response = django_set_language(request)
    language = request.POST.get("language", "")
    if request.user.is_authenticated and language in dict(settings.LANGUAGES):
        save_language(user=request.user, language=language)
    return response


@require_http_methods(["GET"])
def verify_email(request, token: str):
    user = confirm_email(token)
    if user is None:
        messages.error(request, _("This confirmation link is not valid any more; your "
                                  "profile page can send a new one."))
        return redirect("profile" if request.user.is_authenticated else "home")
    messages.success(request, _("Thank you: %(email)s is confirmed.") % {"email": user.email})
    return redirect("home")


@login_required
@require_POST
def resend_verification(request):
    if email_verified(request.user):
        messages.info(request, _("Your email address is already confirmed."))
    elif send_verification(user=request.user, link_for=_link_maker(request)):
        messages.success(request, _("We sent a new link to %(email)s.")
                         % {"email": request.user.email})
    else:
        messages.error(request, _("Too many links were sent to this address; try again later."))
    return redirect("profile")
