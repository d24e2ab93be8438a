"""The admin site's names and login form, in the interface language.

Django's own Bangla catalogue leaves the login error untranslated (and its
message splices in the field's name), so the form says it in ours.
"""

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.utils.translation import gettext_lazy as _


class AdminLoginForm(AdminAuthenticationForm):
    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "invalid_login": _(
            "That username and password do not match a staff account. Both are case-sensitive."
        ),
        "inactive": _("This account is inactive."),
    }


admin.site.site_header = _("Shrutik administration")
admin.site.site_title = _("Shrutik admin")
admin.site.index_title = _("Site administration")
admin.site.login_form = AdminLoginForm
