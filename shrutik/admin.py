"""The admin site's names and login form, in the interface language.

Django's own Bangla catalogue leaves the login error untranslated (and its
message splices in the field's name), so the form says it in ours.
"""

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop


class AdminLoginForm(AdminAuthenticationForm):
    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "invalid_login": _(
            "That username and password do not match a staff account. Both are case-sensitive."
        ),
        "inactive": _("This account is inactive."),
    }


# The admin's own words and the names of the apps it shows that Django's, axes'
# and simplejwt's Bangla catalogues leave untranslated. Ours is searched first
# (LOCALE_PATHS), so translating them there puts the whole admin in Bangla;
# listing them here keeps makemessages from dropping them.
FRAMEWORK_MESSAGES = (
    gettext_noop("Skip to main content"),
    gettext_noop("View site"),
    gettext_noop("Recent actions"),
    gettext_noop("Toggle theme (current theme: auto)"),
    gettext_noop("Toggle theme (current theme: light)"),
    gettext_noop("Toggle theme (current theme: dark)"),
    gettext_noop("Add link"),
    gettext_noop("Change or view list link"),
    gettext_noop("Model name"),
    gettext_noop("Show counts"),
    gettext_noop("Authentication and Authorization"),
    gettext_noop("Axes"),
    gettext_noop("access attempts"),
    gettext_noop("access failures"),
    gettext_noop("access logs"),
    gettext_noop("Token Blacklist"),
    gettext_noop("Blacklisted Tokens"),
    gettext_noop("Outstanding Tokens"),
)

admin.site.site_header = _("Shrutik administration")
admin.site.site_title = _("Shrutik admin")
admin.site.index_title = _("Site administration")
admin.site.login_form = AdminLoginForm
