from django.contrib import admin

from citysafety.models import Heartbeat


@admin.register(Heartbeat)
class HeartbeatAdmin(admin.ModelAdmin):
    """Read-only: the processes write their rows. Deleting the row of a
    replica taken away for good removes it from readiness's list."""

    list_display = ["kind", "name", "started_at", "beat_at", "stopped_at"]
    list_filter = ["kind"]
    readonly_fields = ["kind", "name", "started_at", "beat_at", "stopped_at"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
