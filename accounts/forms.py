from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import (
    PasswordChangeForm,
    PasswordResetForm,
    SetPasswordForm,
    UserCreationForm,
)
from django.utils.translation import gettext_lazy as _

from accounts.services import (
    TooManyPasswordChecks,
    check_password_throttled,
    revoke_api_tokens,
    take_reset_mail_slot,
)
from studio.clientip import client_ip

# Email addresses are not unique: an address is only where password-reset links go, and
# refusing one that is "already taken" would tell anyone which addresses have accounts.


def _check_password(user, password: str) -> None:
    try:
        right = check_password_throttled(user=user, password=password)
    except TooManyPasswordChecks as exc:
        raise forms.ValidationError(str(exc)) from None
    if not right:
        raise forms.ValidationError(_("That is not your password."))


class SignUpForm(UserCreationForm):
    email = forms.EmailField(
        required=True,
        help_text=_("Used only to reset your password."),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")

    def clean_email(self):
        return self.cleaned_data["email"].strip()


class ProfileForm(forms.ModelForm):
    current_password = forms.CharField(
        label=_("Your password"),
        required=False,
        strip=False,
        help_text=_("Needed to change your email address."),
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    class Meta:
        model = get_user_model()
        fields = ("email", "first_name")
        labels = {"first_name": _("Display name")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["email"].required = True
        self.saved_email = self.instance.email

    def clean_email(self):
        return self.cleaned_data["email"].strip()

    def clean(self):
        cleaned = super().clean()
        email = cleaned.get("email")
        if email is not None and email.lower() != (self.saved_email or "").lower():
            # whoever holds a session must not be able to move the reset links elsewhere
            try:
                _check_password(self.instance, cleaned.get("current_password") or "")
            except forms.ValidationError as exc:
                self.add_error("current_password", exc)
        return cleaned


class ThrottledPasswordChangeForm(PasswordChangeForm):
    def clean_old_password(self):
        password = self.cleaned_data["old_password"]
        _check_password(self.user, password)
        return password

    def save(self, commit=True):
        user = super().save(commit)
        revoke_api_tokens(user=user)
        return user


class ResetSetPasswordForm(SetPasswordForm):
    """The new password from a reset link; the account's API tokens end with the old one."""

    def save(self, commit=True):
        user = super().save(commit)
        revoke_api_tokens(user=user)
        return user


class ThrottledPasswordResetForm(PasswordResetForm):
    """Sends the reset mail only within the hourly limits; the page answers the same either
    way, as it does for an address without an account."""

    def save(self, *args, request=None, **kwargs):
        address = client_ip(request) if request is not None else ""
        if not take_reset_mail_slot(email=self.cleaned_data["email"], address=address):
            return None
        return super().save(*args, request=request, **kwargs)


class DeleteAccountForm(forms.Form):
    password = forms.CharField(
        label=_("Your password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    confirm = forms.BooleanField(
        label=_("I understand that my tracks and files will be deleted for good."),
        required=True,
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_password(self):
        password = self.cleaned_data["password"]
        _check_password(self.user, password)
        return password
