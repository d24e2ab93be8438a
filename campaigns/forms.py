from __future__ import annotations

from datetime import timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from recordings.models import Language


class CampaignForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    language = forms.ModelChoiceField(
        label=_("Language"), queryset=Language.objects.filter(active=True), to_field_name="code"
    )
    script_source = forms.CharField(
        label=_("Script source"),
        required=False,
        max_length=300,
        help_text=_("Read the scripts imported with this source first; empty for all scripts."),
    )
    goal_recorded_minutes = forms.IntegerField(
        label=_("Goal: minutes recorded"), min_value=1, initial=60
    )
    goal_validated_minutes = forms.IntegerField(
        label=_("Goal: minutes validated"), min_value=0, initial=0
    )
    starts_at = forms.DateTimeField(
        label=_("Starts"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    ends_at = forms.DateTimeField(
        label=_("Ends"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    show_names = forms.BooleanField(
        label=_("Participants may choose to show their name"), required=False, initial=True
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        now = timezone.localtime().replace(second=0, microsecond=0)
        self.fields["starts_at"].initial = now.strftime("%Y-%m-%dT%H:%M")
        self.fields["ends_at"].initial = (now + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")

    def clean(self):
        data = super().clean()
        if data.get("starts_at") and data.get("ends_at") and data["ends_at"] <= data["starts_at"]:
            self.add_error("ends_at", _("A campaign must end after it starts."))
        return data


class JoinForm(forms.Form):
    code = forms.CharField(
        label=_("Join code"),
        max_length=32,
        widget=forms.TextInput(
            attrs={"autocapitalize": "characters", "autocomplete": "off", "spellcheck": "false"}
        ),
    )
    show_name = forms.BooleanField(
        label=_("Show my name on the campaign's screens"), required=False
    )
