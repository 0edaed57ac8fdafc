"""Changes the system makes: a Celery task's (named by the task) and a management command's (named by the command).

A change outside a request would otherwise reach the trail with no author;
these name the system and what it ran, so "who" is never blank.
"""

from typing import Any

import pghistory
from celery.signals import task_postrun, task_prerun
from django.db.backends.signals import connection_created
from pghistory.runtime import _inject_history_context

# One context per running task, left when the task ends (a worker runs one task per thread).
_open: dict[str, Any] = {}


def system_context(**what: str) -> pghistory.context:
    return pghistory.context(system=True, user=None, username=None, **what)


@task_prerun.connect(weak=False)
def _enter_task(task_id: str, task, **_kwargs) -> None:
    context = system_context(task=task.name)
    context.__enter__()
    _open[task_id] = context


@task_postrun.connect(weak=False)
def _leave_task(task_id: str, **_kwargs) -> None:
    context = _open.pop(task_id, None)
    if context is not None:
        context.__exit__(None, None, None)


_UNNAMED_COMMANDS = {"runserver", "mqtt_bridge", "simulate_readings", "import_readings", "wait_for_database"}


def enter_command_context(argv: list[str]) -> None:
    """Name ``manage.py <command>`` as the author of what the command changes, for the process's life.

    The development server is left out (its requests carry their own person),
    and so are the long-running ingestion commands: a context makes pghistory
    prefix every write statement with a ``set_config``, a cost the readings'
    hot path should not pay for tables it does not track. A change they make
    to a tracked table is still recorded, as the system's.
    """
    if not argv or not argv[0].endswith("manage.py") or len(argv) < 2 or argv[1] in _UNNAMED_COMMANDS:
        return
    system_context(command=argv[1]).__enter__()
    # pghistory hooks the context into the database connection open when it is
    # entered; a command may run on a connection made later (Django replaces the
    # connection objects once set-up ends), so each new connection is hooked too.
    connection_created.connect(_hook_context_into, weak=False, dispatch_uid="audit-command-context")


def _hook_context_into(sender, connection, **_kwargs) -> None:
    if _inject_history_context not in connection.execute_wrappers:
        connection.execute_wrappers.append(_inject_history_context)
