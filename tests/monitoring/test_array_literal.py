"""The PostgreSQL array literals that carry a batch's columns (monitoring.services.array_literal)."""

from datetime import UTC, datetime

import pytest
from django.db import connection

from monitoring.services import array_literal


@pytest.mark.parametrize(
    ("values", "literal"),
    [
        (["GAS-0001", "GAS-0002"], '{"GAS-0001","GAS-0002"}'),
        (['GAS-"1', "GAS-2"], '{"GAS-\\"1","GAS-2"}'),
        (["GAS\\1", "GAS-2"], '{"GAS\\\\1","GAS-2"}'),
        (["GAS-1", None], '{"GAS-1",NULL}'),
        (("GAS-1",), '{"GAS-1"}'),
        ([], "{}"),
        ([3, 1, 2], "{3,1,2}"),
        ([0.5, 1e-07], "{0.5,1e-07}"),
        ([datetime(2026, 11, 30, 8, tzinfo=UTC)] * 2, "{2026-11-30T08:00:00+00:00,2026-11-30T08:00:00+00:00}"),
    ],
)
def test_a_column_becomes_one_literal(values, literal):
    assert array_literal(values) == literal


@pytest.mark.django_db
def test_codes_come_back_from_the_database_as_they_were_sent():
    codes = ['GAS-"quoted"', "GAS\\back", "GAS,comma", "GAS {brace}", "GAS NULL", "NULL", "", "GAS-0001"]

    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::text[]", [array_literal(codes)])
        assert cursor.fetchone()[0] == codes
