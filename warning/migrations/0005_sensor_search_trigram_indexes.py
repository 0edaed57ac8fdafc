"""Trigram indexes for the closed-warning search by part of a sensor's code or name.

The search is the warning app's (``warning.selectors.warnings_of_sensors``:
``UPPER(code) LIKE UPPER('%…%')``, Django's ``icontains``), so its indexes
come with the warning app's migrations, on the sensor table it searches; a
substring match over 100,000 sensors without them is a sequential scan of
the table on every search. Built concurrently: the sensor table stays
writable meanwhile. pg_trgm ships with PostgreSQL (contrib) and is a trusted
extension: the database owner may create it.
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

INDEXES = {
    "warning_sensor_code_trgm": "code",
    "warning_sensor_name_trgm": "name",
}


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("warning", "0004_list_indexes"),
        ("monitoring", "0004_sensor_state_of_its_own"),
    ]

    operations = [
        TrigramExtension(),
        *(
            migrations.RunSQL(
                # The expression is the one icontains compares: UPPER("name"::text).
                f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON monitoring_sensor"
                f" USING gin ((UPPER({column}::text)) gin_trgm_ops)",
                f"DROP INDEX CONCURRENTLY IF EXISTS {name}",
            )
            for name, column in INDEXES.items()
        ),
    ]
