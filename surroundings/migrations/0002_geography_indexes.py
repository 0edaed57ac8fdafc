"""GiST indexes on the geometries' geography cast, for the distance questions in metres.

``surroundings.selectors`` asks ``ST_DWithin(geom::geography, point::geography, metres)``;
the planner uses an index only on that very expression, beside the geometry's own.
"""

from django.db import migrations

GEOMETRIES = {
    "surroundings_protectiontarget": "location",
    "surroundings_emergencyresource": "location",
    "surroundings_camera": "location",
    "surroundings_riskarea": "boundary",
}


class Migration(migrations.Migration):
    dependencies = [("surroundings", "0001_places")]

    operations = [
        migrations.RunSQL(
            f"CREATE INDEX {table}_{column}_geog ON {table} USING gist (({column}::geography))",
            f"DROP INDEX {table}_{column}_geog",
        )
        for table, column in GEOMETRIES.items()
    ]
