import sys

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "audit"
    verbose_name = _("Audit trail")

    def ready(self) -> None:
        # Imported once apps are ready: the module connects Celery's signals and uses pghistory's models.
        from audit import system

        system.enter_command_context(sys.argv)
