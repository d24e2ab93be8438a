from django.contrib import admin

from campaigns.models import Campaign, Participation


class ParticipationInline(admin.TabularInline):
    model = Participation
    extra = 0
    fields = ("number", "user", "show_name", "joined_at", "left_at")
    readonly_fields = fields
    can_delete = False


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    """Every campaign, for the platform's admins (organisers use the campaign pages)."""

    list_display = ("name", "language", "organiser", "status", "starts_at", "ends_at")
    list_filter = ("status", "language")
    search_fields = ("name", "organiser__username")
    readonly_fields = ("join_code", "created_at", "closed_at")
    raw_id_fields = ("organiser",)
    filter_horizontal = ("scripts",)
    inlines = [ParticipationInline]
