from django import forms
from django.conf import settings
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.forms import UserCreationForm
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from contributors.models import PROFILE_FIELDS, User
from shrutik.licences import export_licence
from shrutik.numbers import localize_digits

PROFILE_FORM_LABELS = {
    "display_name": _("Display name"),
    "email": _("Email"),
    "age_range": _("Age range"),
    "gender": _("Gender"),
    "native_language": _("Native language"),
    "dialect": _("Dialect or region"),
    "show_on_leaderboard": _("Show my display name on the public leaderboards"),
}


# Languages of the region Django's list leaves out: code → (English name, own name).
MORE_LANGUAGES = {
    "as": (gettext_noop("Assamese"), "অসমীয়া"),
    "ccp": (gettext_noop("Chakma"), "𑄌𑄋𑄴𑄟𑄳𑄦"),
    "ctg": (gettext_noop("Chittagonian"), "চাটগাঁইয়া"),
    "gu": (gettext_noop("Gujarati"), "ગુજરાતી"),
    "mni": (gettext_noop("Manipuri"), "ꯃꯤꯇꯩꯂꯣꯟ"),
    "or": (gettext_noop("Odia"), "ଓଡ଼ିଆ"),
    "rkt": (gettext_noop("Rangpuri"), "রংপুরী"),
    "sat": (gettext_noop("Santali"), "ᱥᱟᱱᱛᱟᱲᱤ"),
    "si": (gettext_noop("Sinhala"), "සිංහල"),
    "syl": (gettext_noop("Sylheti"), "ꠍꠤꠟꠐꠤ"),
}


def language_choices(current: str = "") -> list[tuple[str, str]]:
    """Languages by their own name (and the interface's name for them), for the
    native-language picker. A stored code the list lacks stays selectable."""
    from django.conf.locale import LANG_INFO

    named = {
        code: (info["name"], info["name_local"])
        for code, info in LANG_INFO.items()
        # Regional variants whose language is listed too: the dialect field says that.
        if "fallback" not in info and not ("-" in code and code.split("-")[0] in LANG_INFO)
    }
    named.update(MORE_LANGUAGES)
    choices = []
    for code, (name, own) in named.items():
        shown = gettext(name)
        choices.append((code, own if own == shown else f"{own} ({shown})"))
    choices.sort(key=lambda choice: choice[1].casefold())
    if current and current not in named:
        choices.append((current, current))
    return [("", "—"), *choices]


class NativeLanguageMixin:
    """The native language as a picker of language names, not a code to type."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        current = getattr(self.instance, "native_language", "") or ""
        self.fields["native_language"] = forms.ChoiceField(
            label=PROFILE_FORM_LABELS["native_language"],
            choices=language_choices(current),
            required=False,
        )


# Django's own help texts and messages are not (fully) translated into Bangla;
# these say the same in our catalogue.
PASSWORD_HELP = _(
    "At least 8 characters, not only digits, not a common password and not like your name or email."
)


def agreement_help() -> str:
    """What the consent box agrees to: the agreement (linked) and the licence."""
    licence = export_licence()
    return format_html(
        gettext(
            'Read the <a href="{url}">contributor agreement</a> (version {version}) first. '
            "Your recordings and transcriptions are published under the {licence} licence."
        ),
        url=reverse("agreement"),
        version=localize_digits(settings.CONSENT_VERSION),
        licence=licence.name,
    )


class LoginForm(auth_forms.AuthenticationForm):
    error_messages = {
        "invalid_login": _(
            "That username and password do not match an account. Both are case-sensitive."
        ),
        "inactive": _("This account is inactive."),
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].label = _("Username")
        self.fields["password"].label = _("Password")


class PasswordResetForm(auth_forms.PasswordResetForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["email"].label = _("Email")
        self.fields["email"].help_text = _(
            "The address on your profile. If it belongs to an account, a link to "
            "choose a new password is sent to it."
        )


class SetPasswordForm(auth_forms.SetPasswordForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["new_password1"].label = _("New password")
        self.fields["new_password1"].help_text = PASSWORD_HELP
        self.fields["new_password2"].label = _("New password again")
        self.fields["new_password2"].help_text = _("Enter the same password again, to check it.")


class SignUpForm(NativeLanguageMixin, UserCreationForm):
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
        self.fields["username"].label = _("Username")
        self.fields["username"].help_text = _(
            "Up to 150 characters: letters, digits and @ . + - _ only."
        )
        self.fields["password1"].help_text = PASSWORD_HELP
        self.fields["consent"].help_text = agreement_help()
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


class ProfileForm(NativeLanguageMixin, forms.ModelForm):
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
        self.fields["delete_recordings"].help_text = localize_digits(
            _(
                "Ticked, their audio is deleted from storage at once. Otherwise it is deleted "
                "%(days)d days after the erasure. Either way your recordings never appear in a "
                "new export."
            )
            % {"days": settings.ERASURE_GRACE_DAYS}
        )

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
