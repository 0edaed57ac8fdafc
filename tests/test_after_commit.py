"""Work gathered over a transaction and done once after it commits (citysafety.after_commit)."""

import pytest
from django.db import transaction

from citysafety import after_commit

pytestmark = pytest.mark.django_db(transaction=True)


def test_what_a_transaction_gathers_is_sent_once_after_its_commit():
    sent = []
    with transaction.atomic():
        after_commit.collect("things", [1, 2], sent.append)
        after_commit.collect("things", [2, 3], sent.append)
        assert sent == []
    assert sent == [[1, 2, 3]]

    with transaction.atomic():
        after_commit.collect("things", [4], sent.append)
    assert sent == [[1, 2, 3], [4]]


def gather_and_fail(items: list, sent: list) -> None:
    with transaction.atomic():
        after_commit.collect("things", items, sent.append)
        raise RuntimeError


def test_what_a_rolled_back_transaction_gathered_is_dropped_and_the_next_one_is_sent():
    sent = []
    with pytest.raises(RuntimeError):
        gather_and_fail([1], sent)
    with transaction.atomic():
        after_commit.collect("things", [2], sent.append)
    assert sent == [[2]]


def test_a_savepoint_rolled_back_first_does_not_swallow_what_the_transaction_gathers_later():
    sent = []
    with transaction.atomic():
        with pytest.raises(RuntimeError):
            gather_and_fail([1], sent)
        after_commit.collect("things", [2], sent.append)
    assert sent == [[2]]


def test_outside_a_transaction_it_is_sent_at_once():
    sent = []
    after_commit.collect("things", [1], sent.append)
    after_commit.collect("things", [2], sent.append)
    assert sent == [[1], [2]]
