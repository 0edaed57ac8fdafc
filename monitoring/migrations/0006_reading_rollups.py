"""Minute and hour roll-ups of the readings, partitioned and kept by pg_partman.

Minute roll-ups are partitioned by day, like the readings; hour roll-ups by
month, since they are kept for years. Their rows are made by
``monitoring.rollups`` from the readings, the ones already stored included
(it starts from reading id 0).
"""

import django.db.models.deletion
from django.db import migrations, models

from monitoring.partitions import partman_create_parent

_ROLLUP_TABLE = """
    CREATE TABLE {table} (
        sensor_id bigint NOT NULL,
        bucket timestamptz NOT NULL,
        count integer NOT NULL CONSTRAINT {table}_count_check CHECK (count >= 0),
        minimum double precision NOT NULL,
        maximum double precision NOT NULL,
        total double precision NOT NULL,
        last_value double precision NOT NULL,
        last_observed_at timestamptz NOT NULL,
        CONSTRAINT {table}_pkey PRIMARY KEY (sensor_id, bucket){include},
        CONSTRAINT {table}_sensor_id_fk_monitoring_sensor_id FOREIGN KEY (sensor_id)
            REFERENCES monitoring_sensor (id) DEFERRABLE INITIALLY DEFERRED
    ) PARTITION BY RANGE (bucket)
"""

# table: (pg_partman interval, partitions made ahead, what the oldest is truncated to, primary key's INCLUDE)
#
# The hour roll-ups' key carries every column: a year's chart of one sensor
# reads 8,760 rows that lie on 8,760 different pages of the table (each hour
# is written for every sensor at once), but on a few dozen pages of the
# index, read alone (an index-only scan) once vacuum has marked the pages
# all-visible. Measured by bench/rollups.py: see docs/performance.md.
ROLLUP_TABLES = {
    "monitoring_minuterollup": ("daily", 7, "day", ""),
    "monitoring_hourrollup": (
        "monthly",
        3,
        "month",
        " INCLUDE (count, minimum, maximum, total, last_value, last_observed_at)",
    ),
}


def create_rollup_tables(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        for table, (interval, premake, unit, include) in ROLLUP_TABLES.items():
            # From the oldest reading on, so the roll-ups of the readings
            # already stored have their partitions.
            cursor.execute(
                "SELECT date_trunc(%s, least(min(observed_at), now() - interval '30 days'), 'UTC')"
                " FROM monitoring_reading",
                [unit],
            )
            oldest = cursor.fetchone()[0]
            cursor.execute(_ROLLUP_TABLE.format(table=table, include=include))
            partman_create_parent(
                cursor, table=table, column="bucket", interval=interval, premake=premake, start=oldest.isoformat()
            )
            cursor.execute(
                "UPDATE partman.part_config SET infinite_time_partitions = true"
                " WHERE parent_table = current_schema() || '.' || %s",
                [table],
            )


def drop_rollup_tables(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        for table in ROLLUP_TABLES:
            cursor.execute(
                "DELETE FROM partman.part_config WHERE parent_table = current_schema() || '.' || %s", [table]
            )
            cursor.execute("SELECT quote_ident('template_' || current_schema() || '_' || %s)", [table])
            cursor.execute(f"DROP TABLE IF EXISTS partman.{cursor.fetchone()[0]}")
            cursor.execute(f"DROP TABLE {table}")


def _rollup_fields():
    return [
        (
            "pk",
            models.CompositePrimaryKey(
                "sensor_id", "bucket", blank=True, editable=False, primary_key=True, serialize=False
            ),
        ),
        ("bucket", models.DateTimeField(verbose_name="bucket start")),
        ("count", models.PositiveIntegerField(verbose_name="readings")),
        ("minimum", models.FloatField(verbose_name="minimum")),
        ("maximum", models.FloatField(verbose_name="maximum")),
        ("total", models.FloatField(verbose_name="sum")),
        ("last_value", models.FloatField(verbose_name="last value")),
        ("last_observed_at", models.DateTimeField(verbose_name="last reading at")),
        (
            "sensor",
            models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="monitoring.sensor",
                verbose_name="sensor",
            ),
        ),
    ]


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0005_readings_partitioned_by_day"),
    ]

    operations = [
        migrations.CreateModel(
            name="RollupProgress",
            fields=[
                ("id", models.PositiveSmallIntegerField(default=1, primary_key=True, serialize=False)),
                ("rolled_up_through", models.BigIntegerField(default=0, verbose_name="rolled up through reading id")),
                (
                    "settling_through",
                    models.BigIntegerField(blank=True, null=True, verbose_name="settling through reading id"),
                ),
                ("settling_since", models.DateTimeField(blank=True, null=True, verbose_name="settling since")),
            ],
            options={"verbose_name": "roll-up progress", "verbose_name_plural": "roll-up progress"},
        ),
        migrations.RunSQL(
            "INSERT INTO monitoring_rollupprogress (id, rolled_up_through) VALUES (1, 0)", migrations.RunSQL.noop
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="HourRollup",
                    fields=_rollup_fields(),
                    options={"verbose_name": "hour roll-up", "verbose_name_plural": "hour roll-ups"},
                ),
                migrations.CreateModel(
                    name="MinuteRollup",
                    fields=_rollup_fields(),
                    options={"verbose_name": "minute roll-up", "verbose_name_plural": "minute roll-ups"},
                ),
            ],
            database_operations=[migrations.RunPython(create_rollup_tables, drop_rollup_tables)],
        ),
    ]
