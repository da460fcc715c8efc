from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from accounts.forms import DeleteAccountForm, ProfileForm, SignUpForm
from accounts.services import (
    confirm_email,
    delete_account,
    email_verified,
    revoke_api_token,
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
            form.add_error(None, "Too many new accounts from your address in the last hour; "
                                 "please try again later.")
            return render(request, "registration/signup.html", {"form": form}, status=429)
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, f"Welcome to Cadenza, {user.username}!")
        if not email_verified(user):
            send_verification(user=user, link_for=_link_maker(request))
            messages.info(request, f"We sent a link to {user.email}: open it to confirm the "
                                   "address before your first track.")
        return redirect("home")
    return render(request, "registration/signup.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def profile(request):
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        messages.success(request, "Your profile was saved.")
        if "email" in form.changed_data and not email_verified(user):
            send_verification(user=user, link_for=_link_maker(request))
            messages.info(request, f"We sent a link to {user.email} to confirm it.")
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
    messages.success(request, "The API token was revoked.")
    return redirect("profile")


@login_required
@require_http_methods(["GET", "POST"])
def delete(request):
    form = DeleteAccountForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        user = request.user
        logout(request)
        delete_account(user=user)
        messages.info(request, "Your account and your tracks were deleted.")
        return redirect("home")
    return render(request, "accounts/delete.html", {"form": form})


def _link_maker(request):
    return lambda token: request.build_absolute_uri(reverse("verify_email", args=[token]))


@require_http_methods(["GET"])
def verify_email(request, token: str):
    user = confirm_email(token)
    if user is None:
        messages.error(request, "This confirmation link is not valid any more; your profile "
                                "page can send a new one.")
        return redirect("profile" if request.user.is_authenticated else "home")
    messages.success(request, f"Thank you: {user.email} is confirmed.")
    return redirect("home")


@login_required
@require_POST
def resend_verification(request):
    if email_verified(request.user):
        messages.info(request, "Your email address is already confirmed.")
    elif send_verification(user=request.user, link_for=_link_maker(request)):
        messages.success(request, f"We sent a new link to {request.user.email}.")
    else:
        messages.error(request, "Too many links were sent to this address; try again later.")
    return redirect("profile")
