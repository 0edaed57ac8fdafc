"""Changes the system makes: a Celery task's (named by the task) and a management command's (named by the command).

A change outside a request would otherwise reach the trail with no author;
these name the system and what it ran, so "who" is never blank.
"""

from typing import Any

import pghistory
from celery.signals import task_postrun, task_prerun

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


def enter_command_context(argv: list[str]) -> None:
    """Name ``manage.py <command>`` as the author of what the command changes, for the process's life.

    The development server is left out: its requests carry their own person.
    """
    if not argv or not argv[0].endswith("manage.py") or len(argv) < 2 or argv[1] == "runserver":
        return
    system_context(command=argv[1]).__enter__()
