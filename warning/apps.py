from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WarningConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "warning"
    verbose_name = _("Warnings")

    def ready(self) -> None:
        # Imported here, not at the top: an app's config loads before any
        # models can (Django's app registry), and ready() is where receivers connect.
        from monitoring.events import readings_stored
        from warning.receivers import enqueue_evaluation

        readings_stored.connect(enqueue_evaluation, dispatch_uid="warning.enqueue_evaluation")
