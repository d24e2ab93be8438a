from django import forms
from django.conf import settings
from django.contrib.auth.forms import UserCreationForm
from django.utils.translation import gettext_lazy as _

from contributors.models import User

PROFILE_FORM_FIELDS = [
    "display_name",
    "email",
    "age_range",
    "gender",
    "native_language",
    "dialect",
    "show_on_leaderboard",
]


class SignUpForm(UserCreationForm):
    consent = forms.BooleanField(
        label=_("I agree to donate my voice and transcriptions under the contributor agreement."),
        required=True,
        error_messages={"required": _("You must accept the contributor agreement to sign up.")},
    )

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ["username", *PROFILE_FORM_FIELDS]

    def save(self, commit: bool = True) -> User:
        from contributors import services

        data = {f: self.cleaned_data.get(f) for f in PROFILE_FORM_FIELDS}
        return services.user_register(
            username=self.cleaned_data["username"],
            password=self.cleaned_data["password1"],
            consent_version=settings.CONSENT_VERSION,
            **{k: v for k, v in data.items() if v is not None},
        )


class ProfileForm(forms.ModelForm):
    class Meta:
        model = User
        fields = PROFILE_FORM_FIELDS


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

    def clean_confirm(self) -> str:
        value = self.cleaned_data["confirm"]
        if value != self.user.username:
            raise forms.ValidationError(_("That is not your username."))
        return value
