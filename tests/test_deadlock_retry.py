"""A person's action that PostgreSQL cancels to break a deadlock is run again (citysafety.db)."""

import threading

import pytest
from django.db import OperationalError, connection, transaction

from citysafety.db import retry_on_deadlock
from organisation.models import Department
from tests.factories import DepartmentFactory


def _lock(pk: int) -> None:
    list(Department.objects.select_for_update().filter(pk=pk))


@pytest.mark.django_db(transaction=True)
def test_a_real_deadlock_is_broken_and_the_cancelled_action_runs_again():
    first, second = DepartmentFactory(), DepartmentFactory()
    both_hold_one = threading.Barrier(2, timeout=10)
    attempts = []
    errors = []

    @retry_on_deadlock
    def action() -> str:
        attempts.append(1)
        with transaction.atomic():
            # This side notices the cycle first, so PostgreSQL cancels it.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL deadlock_timeout = '50ms'")
            _lock(first.pk)
            if len(attempts) == 1:
                both_hold_one.wait()
            _lock(second.pk)
            Department.objects.filter(pk=first.pk).update(name="done by the action")
        return "done"

    def the_other_side() -> None:
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL deadlock_timeout = '10s'")
                _lock(second.pk)
                both_hold_one.wait()
                _lock(first.pk)
        except Exception as error:  # reported to the test's thread
            errors.append(error)
        finally:
            connection.close()

    other = threading.Thread(target=the_other_side)
    other.start()
    try:
        assert action() == "done"
    finally:
        other.join(timeout=20)
    assert errors == []
    assert len(attempts) == 2
    assert Department.objects.get(pk=first.pk).name == "done by the action"


def _deadlock() -> OperationalError:
    class DeadlockDetectedError(Exception):
        pgcode = "40P01"

    error = OperationalError("deadlock detected")
    error.__cause__ = DeadlockDetectedError()
    return error


def test_only_deadlocks_are_retried_and_at_most_three_times():
    calls = []

    @retry_on_deadlock
    def always_deadlocked():
        calls.append(1)
        raise _deadlock()

    @retry_on_deadlock
    def server_gone():
        calls.append(2)
        raise OperationalError("server closed the connection unexpectedly")

    with pytest.raises(OperationalError, match="deadlock"):
        always_deadlocked()
    assert calls == [1, 1, 1]
    calls.clear()
    with pytest.raises(OperationalError, match="server closed"):
        server_gone()
    assert calls == [2]


@pytest.mark.django_db
def test_inside_a_callers_transaction_the_deadlock_goes_to_the_caller():
    calls = []

    @retry_on_deadlock
    def deadlocked():
        calls.append(1)
        raise _deadlock()

    with pytest.raises(OperationalError), transaction.atomic():
        deadlocked()
    assert calls == [1]
