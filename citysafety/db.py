"""What every app's services may need of the database beyond the ORM."""

import functools
import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from django.db import OperationalError, connection

log = logging.getLogger(__name__)

# PostgreSQL's SQLSTATE for "deadlock detected".
DEADLOCK = "40P01"

P = ParamSpec("P")
R = TypeVar("R")


def is_deadlock(error: BaseException) -> bool:
    return getattr(error.__cause__, "pgcode", None) == DEADLOCK


def retry_on_deadlock(service: Callable[P, R], *, attempts: int = 3) -> Callable[P, R]:
    """Run a person's action again when PostgreSQL broke a deadlock by cancelling it.

    A duty officer's verdict or closing locks a warning, then its incident's
    other members, while the evaluation may already hold one of those rows
    and wait for the warning's: PostgreSQL cancels one side. The evaluation
    is retried by its sweep; a person's action is retried here, a moment
    later, instead of asking the person to press the button again. Only the
    outermost transaction is retried: inside a caller's, the whole of it is
    lost and only the caller may start it again.
    """

    @functools.wraps(service)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        for attempt in range(1, attempts + 1):
            try:
                return service(*args, **kwargs)
            except OperationalError as error:
                if attempt == attempts or connection.in_atomic_block or not is_deadlock(error):
                    raise
                log.warning("%s lost a deadlock (attempt %s of %s); trying again", service.__name__, attempt, attempts)
        raise AssertionError("unreachable")

    return run
