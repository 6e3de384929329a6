"""The audit log in the admin: read-only, only the services write it."""

from django.contrib import admin

from audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "actor",
        "verb",
        "object_type",
        "object_id",
        "message",
    )
    list_filter = ("verb", "object_type")
    search_fields = ("message", "object_id", "actor__username")
    list_select_related = ("actor",)
    date_hierarchy = "created_at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
