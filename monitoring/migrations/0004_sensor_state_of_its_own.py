"""Each sensor's moving state gets a narrow table of its own (see SensorState)."""

import django.db.models.deletion
from django.db import migrations, models

# A sensor whose readings some rule has not seen yet (by the warning app's
# watermarks, where that table exists) is marked unevaluated from the oldest
# time a gateway may send (INGEST_MAX_AGE_DAYS, 30 by default), so the move
# hides no reading from evaluation; the others are marked as evaluated.
_COPY = """
    INSERT INTO monitoring_sensorstate
        (sensor_id, latest_value, latest_observed_at, latest_reading_id, unevaluated_since, unevaluated_observed_from)
    SELECT s.id, s.latest_value, s.latest_observed_at, s.latest_reading_id,
           CASE WHEN b.behind THEN now() END,
           CASE WHEN b.behind THEN s.latest_observed_at - interval '30 days' END
    FROM monitoring_sensor AS s, LATERAL (SELECT {behind} AS behind) AS b
    WHERE s.latest_reading_id IS NOT NULL OR s.latest_observed_at IS NOT NULL
"""
_BEHIND_BY_WATERMARKS = """s.latest_reading_id IS NOT NULL AND (
    NOT EXISTS (SELECT 1 FROM warning_rulestate AS r WHERE r.sensor_id = s.id)
    OR EXISTS (SELECT 1 FROM warning_rulestate AS r
               WHERE r.sensor_id = s.id AND coalesce(r.last_reading_id, 0) < s.latest_reading_id))"""


def copy_sensor_states(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        has_watermarks = "warning_rulestate" in connection.introspection.table_names(cursor) and any(
            column.name == "last_reading_id"
            for column in connection.introspection.get_table_description(cursor, "warning_rulestate")
        )
        cursor.execute(
            _COPY.format(behind=_BEHIND_BY_WATERMARKS if has_watermarks else "s.latest_reading_id IS NOT NULL")
        )


def copy_sensor_states_back(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "UPDATE monitoring_sensor AS s SET latest_value = t.latest_value, latest_observed_at = t.latest_observed_at,"
            " latest_reading_id = t.latest_reading_id FROM monitoring_sensorstate AS t WHERE t.sensor_id = s.id"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0003_districts_move_to_organisation"),
    ]

    operations = [
        migrations.CreateModel(
            name="SensorState",
            fields=[
                (
                    "sensor",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="state",
                        serialize=False,
                        to="monitoring.sensor",
                        verbose_name="sensor",
                    ),
                ),
                ("latest_value", models.FloatField(blank=True, null=True, verbose_name="latest value")),
                ("latest_observed_at", models.DateTimeField(blank=True, null=True, verbose_name="latest reading at")),
                ("latest_reading_id", models.BigIntegerField(blank=True, null=True, verbose_name="newest reading id")),
                (
                    "unevaluated_since",
                    models.DateTimeField(blank=True, null=True, verbose_name="unevaluated readings since"),
                ),
                (
                    "unevaluated_observed_from",
                    models.DateTimeField(blank=True, null=True, verbose_name="oldest unevaluated observation"),
                ),
            ],
            options={
                "verbose_name": "sensor state",
                "verbose_name_plural": "sensor states",
            },
        ),
        # Fill factor: room on each page for the next version of its rows, so
        # an update never moves a row (HOT). Autovacuum visits the small,
        # busy table after 1 % of it changed rather than 20 %.
        migrations.RunSQL(
            "ALTER TABLE monitoring_sensorstate SET (fillfactor = 50, autovacuum_vacuum_scale_factor = 0.01,"
            " autovacuum_vacuum_threshold = 1000, autovacuum_analyze_scale_factor = 0.05)",
            migrations.RunSQL.noop,
        ),
        migrations.RunPython(copy_sensor_states, copy_sensor_states_back),
        migrations.RemoveField(
            model_name="sensor",
            name="latest_observed_at",
        ),
        migrations.RemoveField(
            model_name="sensor",
            name="latest_reading_id",
        ),
        migrations.RemoveField(
            model_name="sensor",
            name="latest_value",
        ),
    ]
