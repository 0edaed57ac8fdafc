import sys

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "audit"
    verbose_name = _("Audit trail")

    def ready(self) -> None:
        # Imported once the models are loaded: both modules use the event models or pghistory's.
        from audit import installation, system

        system.enter_command_context(sys.argv)
        post_migrate.connect(installation.after_migrate, sender=self, dispatch_uid="audit-install-triggers")
