from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from contributors import services
from contributors.models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = [
        "username",
        "display_name",
        "email",
        "roles",
        "is_staff",
        "is_active",
        "consent_version",
        "date_joined",
    ]
    list_filter = ["groups", "is_staff", "is_active", "gender", "age_range", "native_language"]
    search_fields = ["username", "email", "display_name", "speaker_id"]
    readonly_fields = ["speaker_id", "consent_at", "erased_at", "last_login", "date_joined"]
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        (
            _("Contributor"),
            {
                "fields": (
                    "display_name",
                    "speaker_id",
                    "age_range",
                    "gender",
                    "native_language",
                    "dialect",
                    "show_on_leaderboard",
                )
            },
        ),
        (_("Consent"), {"fields": ("consent_version", "consent_at", "erased_at")}),
    )
    actions = ["make_reviewer", "make_researcher", "remove_elevated_roles", "block_users"]

    @admin.display(description=_("roles"))
    def roles(self, obj: User) -> str:
        return ", ".join(g.name for g in obj.groups.all())

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    def _add_role(self, request, queryset, role: str) -> None:
        for user in queryset:
            current = set(user.groups.values_list("name", flat=True)) & set(settings.ROLE_GROUPS)
            services.user_set_roles(user=user, roles=current | {role})
        self.message_user(request, _("Role updated."), messages.SUCCESS)

    @admin.action(description=_("Grant the reviewer role"))
    def make_reviewer(self, request, queryset):
        self._add_role(request, queryset, "reviewer")

    @admin.action(description=_("Grant the researcher role"))
    def make_researcher(self, request, queryset):
        self._add_role(request, queryset, "researcher")

    @admin.action(description=_("Keep only the contributor role"))
    def remove_elevated_roles(self, request, queryset):
        for user in queryset:
            services.user_set_roles(user=user, roles={"contributor"})
        self.message_user(request, _("Roles reset."), messages.SUCCESS)

    @admin.action(description=_("Block (deactivate) selected users"))
    def block_users(self, request, queryset):
        count = queryset.exclude(pk=request.user.pk).update(is_active=False)
        self.message_user(request, _("%d users blocked.") % count, messages.SUCCESS)
