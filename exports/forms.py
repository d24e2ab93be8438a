from django import forms
from django.utils.translation import gettext_lazy as _


class AccessRequestForm(forms.Form):
    """What an admin needs to decide on researcher access."""

    name = forms.CharField(label=_("Your name"), max_length=150)
    institution = forms.CharField(label=_("Institution or organisation"), max_length=200)
    email = forms.EmailField(
        label=_("E-mail"), help_text=_("The decision is sent to this address.")
    )
    purpose = forms.CharField(
        label=_("What will you use the data for?"),
        min_length=20,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_(
            "A few sentences: your project, what you will train or study, and where "
            "you will publish the results."
        ),
    )
    accept_terms = forms.BooleanField(
        label=_("I accept the data terms above."),
        error_messages={"required": _("Accept the data terms to request access.")},
    )
