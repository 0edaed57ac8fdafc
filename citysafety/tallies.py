"""Counters kept in the database (``citysafety.models.Tally``)."""

from django.db import connection

READINGS_INGESTED = "readings_ingested"
READINGS_REFUSED = "readings_refused"

_ADD = (
    "INSERT INTO citysafety_tally (name, label, value) VALUES (%s, %s, %s)"
    " ON CONFLICT (name, label) DO UPDATE SET value = citysafety_tally.value + EXCLUDED.value"
)


def tally_add(*, name: str, label: str = "", amount: int) -> None:
    """Add to a counter in one statement. Call it outside the caller's
    transaction: the row lock it takes is then held for one statement, not
    for a whole batch, so two batches of one gateway do not queue on it."""
    if amount:
        with connection.cursor() as cursor:
            cursor.execute(_ADD, [name, label, amount])


def readings_counted(*, gateway: str, accepted: int, refused: int) -> None:
    tally_add(name=READINGS_INGESTED, label=gateway, amount=accepted)
    tally_add(name=READINGS_REFUSED, label=gateway, amount=refused)
