from django import forms
from django.conf import settings
from django.contrib.auth.forms import UserCreationForm
from django.utils.translation import gettext_lazy as _

from contributors.models import PROFILE_FIELDS, User

PROFILE_FORM_LABELS = {
    "display_name": _("Display name"),
    "email": _("Email"),
    "age_range": _("Age range"),
    "gender": _("Gender"),
    "native_language": _("Native language"),
    "dialect": _("Dialect or region"),
    "show_on_leaderboard": _("Show my display name on the public leaderboards"),
}


class SignUpForm(UserCreationForm):
    consent = forms.BooleanField(
        label=_("I agree to donate my voice and transcriptions under the contributor agreement."),
        required=True,
        error_messages={"required": _("You must accept the contributor agreement to sign up.")},
    )

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ["username", *PROFILE_FIELDS]
        labels = PROFILE_FORM_LABELS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Django's own help texts are not translated into Bangla; these say the same.
        self.fields["username"].help_text = _(
            "Up to 150 characters: letters, digits and @ . + - _ only."
        )
        self.fields["password1"].help_text = _(
            "At least 8 characters, not only digits, not a common password and not "
            "like your name or email."
        )
        self.fields["password2"].help_text = _("Enter the same password again, to check it.")

    def save(self, commit: bool = True) -> User:
        from contributors import services

        data = {f: self.cleaned_data.get(f) for f in PROFILE_FIELDS}
        return services.user_register(
            username=self.cleaned_data["username"],
            password=self.cleaned_data["password1"],
            consent_version=settings.CONSENT_VERSION,
            **{k: v for k, v in data.items() if v is not None},
        )


class ProfileForm(forms.ModelForm):
    class Meta:
        model = User
        fields = list(PROFILE_FIELDS)
        labels = PROFILE_FORM_LABELS


class EraseAccountForm(forms.Form):
    confirm = forms.CharField(
        label=_("Type your username to confirm"),
        max_length=150,
    )
    delete_recordings = forms.BooleanField(
        label=_("Also delete my recordings"),
        required=False,
    )

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["delete_recordings"].help_text = _(
            "Ticked, their audio is deleted from storage at once. Otherwise it is deleted "
            "%(days)d days after the erasure. Either way your recordings never appear in a "
            "new export."
        ) % {"days": settings.ERASURE_GRACE_DAYS}

    def clean_confirm(self) -> str:
        value = self.cleaned_data["confirm"]
        if value != self.user.username:
            raise forms.ValidationError(_("That is not your username."))
        return value


class ConsentForm(forms.Form):
    """Accept the current contributor agreement, or withdraw consent."""

    GIVE, WITHDRAW = "give", "withdraw"
    action = forms.ChoiceField(
        choices=[(GIVE, _("Accept the agreement")), (WITHDRAW, _("Withdraw consent"))],
        widget=forms.HiddenInput,
    )
