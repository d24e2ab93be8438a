from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from contributors import services
from contributors.models import ReliabilityScore, User


class ReliabilityInline(admin.TabularInline):
    """How reliable the contributor has proven per language, as the consensus
    engine weighs them (read-only: the engine maintains it)."""

    model = ReliabilityScore
    fields = ["language", "accuracy_shown", "chunks", "listening_shown", "listen_votes",
              "updated_at"]  # fmt: skip
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = _("reliability")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description=_("word accuracy"))
    def accuracy_shown(self, obj: ReliabilityScore) -> str:
        return f"{obj.accuracy:.1%}"

    @admin.display(description=_("votes right"))
    def listening_shown(self, obj: ReliabilityScore) -> str:
        accuracy = obj.listen_accuracy
        return "—" if accuracy is None else f"{accuracy:.1%}"


def _role_names(user: User) -> set[str]:
    return {g.name for g in user.groups.all()} & set(settings.ROLE_GROUPS)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = [
        "username",
        "display_name",
        "email",
        "roles",
        "is_staff",
        "is_active",
        "blocked",
        "consent_version",
        "date_joined",
    ]
    list_filter = ["groups", "is_staff", "is_active", "gender", "age_range", "native_language"]
    search_fields = ["username", "email", "display_name", "speaker_id"]
    # Staff status follows the reviewer role (see services.user_set_roles): it
    # is shown, and changes with the groups chosen here or the role actions.
    readonly_fields = [
        "is_staff",
        "speaker_id",
        "consent_at",
        "erased_at",
        "last_login",
        "date_joined",
    ]
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
    actions = [
        "make_reviewer",
        "make_researcher",
        "make_organiser",
        "remove_elevated_roles",
        "block_users",
        "unblock_users",
    ]
    inlines = [ReliabilityInline]

    @admin.display(description=_("blocked"), boolean=True)
    def blocked(self, obj: User) -> bool:
        return obj.is_blocked

    @admin.display(description=_("roles"))
    def roles(self, obj: User) -> str:
        return ", ".join(g.name for g in obj.groups.all())

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        # Role groups ticked on the form are granted like the actions grant
        # them, so that staff status follows.
        user = form.instance
        services.user_set_roles(user=user, roles=_role_names(user))

    def _add_role(self, request, queryset, role: str) -> None:
        for user in queryset:
            services.user_set_roles(user=user, roles=_role_names(user) | {role})
        self.message_user(request, _("Role updated."), messages.SUCCESS)

    @admin.action(description=_("Grant the reviewer role"))
    def make_reviewer(self, request, queryset):
        self._add_role(request, queryset, "reviewer")

    @admin.action(description=_("Grant the researcher role"))
    def make_researcher(self, request, queryset):
        self._add_role(request, queryset, "researcher")

    @admin.action(description=_("Grant the organiser role"))
    def make_organiser(self, request, queryset):
        self._add_role(request, queryset, "organiser")

    @admin.action(description=_("Keep only the contributor role"))
    def remove_elevated_roles(self, request, queryset):
        for user in queryset:
            services.user_set_roles(user=user, roles={"contributor"})
        self.message_user(request, _("Roles reset."), messages.SUCCESS)

    @admin.action(description=_("Block selected users (their work stops counting)"))
    def block_users(self, request, queryset):
        changed = services.user_set_blocked(
            user_ids=list(queryset.values_list("pk", flat=True)), blocked=True, by=request.user
        )
        n = len(changed)
        message = ngettext("%d user blocked.", "%d users blocked.", n) % n
        self.message_user(request, message, messages.SUCCESS)

    @admin.action(description=_("Unblock selected users"))
    def unblock_users(self, request, queryset):
        changed = services.user_set_blocked(
            user_ids=list(queryset.values_list("pk", flat=True)), blocked=False
        )
        n = len(changed)
        message = ngettext("%d user unblocked.", "%d users unblocked.", n) % n
        self.message_user(request, message, messages.SUCCESS)
