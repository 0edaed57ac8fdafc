"""Admin: people's notification preferences, departments' webhook endpoints and the delivery log."""

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from citysafety.admin_mixins import ViewOnly
from notifications import outbound
from notifications.messages import notification_text
from notifications.models import Notification, NotificationPreference, WebhookDelivery, WebhookEndpoint


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    list_display = ("user", "phone", "language", "in_app_levels", "email_levels", "sms_levels")
    list_select_related = ("user",)
    search_fields = ("user__username", "phone")
    autocomplete_fields = ("user",)


class WebhookEndpointForm(forms.ModelForm):
    class Meta:
        model = WebhookEndpoint
        fields = ("department", "url", "levels", "is_active")

    def clean_url(self) -> str:
        """Say at once when the URL leads inside; delivery checks again, on the address it connects to."""
        url = self.cleaned_data["url"]
        try:
            outbound.check_url(url)
        except (outbound.AddressRefused, outbound.HostUnresolved) as exc:
            raise forms.ValidationError(str(exc), code="address_refused") from exc
        return url


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ("department", "url", "levels", "is_active", "created_at")
    list_filter = ("is_active", "department")
    list_select_related = ("department",)
    search_fields = ("url", "department__name", "department__code")
    autocomplete_fields = ("department",)
    readonly_fields = ("secret", "created_at")
    fields = ("department", "url", "levels", "is_active", "secret", "created_at")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ViewOnly, admin.ModelAdmin):
    """The delivery log: read-only, the platform writes it."""

    list_display = ("created_at", "endpoint", "event", "key", "status", "attempts", "response_code", "delivered_at")
    list_filter = ("status", "event", "endpoint__department")
    list_select_related = ("endpoint__department",)
    search_fields = ("key", "endpoint__url")
    date_hierarchy = "created_at"


@admin.register(Notification)
class NotificationAdmin(ViewOnly, admin.ModelAdmin):
    list_display = ("created_at", "recipient", "kind", "level", "text", "read_at", "emailed_at", "texted_at")
    list_filter = ("kind", "level")
    list_select_related = ("recipient",)
    search_fields = ("recipient__username", "key")
    raw_id_fields = ("recipient", "department")
    date_hierarchy = "created_at"

    @admin.display(description=_("text"))
    def text(self, obj: Notification) -> str:
        return notification_text(obj.kind, obj.data)
