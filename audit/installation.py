"""Installing the audit trail's triggers after each migrate, only where their tables are there.

pgtrigger's own install-on-migrate installs every trigger and fails on a
partial migrate (``migrate monitoring 0004``) that has dropped a tracked
table. Here a trigger is installed when its table exists and every event
table exists; when the event tables are gone (the audit app migrated back),
the tracking triggers are removed, or every write to a tracked table would
fail on a missing event table.
"""

import pgtrigger
from django.db import connections

from audit.models import TRACKED


def install_triggers(*, using: str) -> None:
    tables = set(connections[using].introspection.table_names())
    trail_ready = all(event_model._meta.db_table in tables for event_model in TRACKED.values())
    present = [trigger.get_uri(model) for model, trigger in pgtrigger.registered() if model._meta.db_table in tables]
    if not present:
        return
    if trail_ready:
        pgtrigger.install(*present, database=using)
    else:
        pgtrigger.uninstall(*present, database=using)


def after_migrate(sender, using: str = "default", **_kwargs) -> None:
    install_triggers(using=using)
