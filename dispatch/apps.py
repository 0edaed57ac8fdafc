from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DispatchConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "dispatch"
    verbose_name = _("Dispatch")

    def ready(self) -> None:
        # Imported here, not at the top: an app's config loads before any
        # models can (Django's app registry), and ready() is where receivers connect.
        from django.db.models.signals import post_delete

        from dispatch.models import ReportPhoto
        from dispatch.photos import photo_files_delete
        from dispatch.receivers import route_warning
        from warning.events import warning_changed

        warning_changed.connect(route_warning, dispatch_uid="dispatch.route_warning")
        post_delete.connect(photo_files_delete, sender=ReportPhoto, dispatch_uid="dispatch.photo_files_delete")
