from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "reports"
    verbose_name = _("Reports")

    def ready(self) -> None:
        # Imported here, not at the top: an app's config loads before any
        # models can (Django's app registry), and ready() is where receivers connect.
        from reports.receivers import summarise_closed_warning
        from warning.events import warning_changed

        warning_changed.connect(summarise_closed_warning, dispatch_uid="reports.summarise_closed_warning")
