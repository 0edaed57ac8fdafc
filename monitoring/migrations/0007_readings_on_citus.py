"""On a Citus coordinator, shard the readings by sensor (docs/scaling.md).

On plain PostgreSQL this does nothing: ``monitoring.citus.distribute``
finds no citus extension. The compose file's "scale" profile waits for the
worker nodes before it migrates, so the shards go to all of them.
"""

from django.db import migrations

from monitoring import citus


def distribute(apps, schema_editor):
    citus.distribute(schema_editor.connection)


class Migration(migrations.Migration):
    # create_distributed_table moves existing rows to the workers: not in one
    # transaction with other DDL.
    atomic = False

    dependencies = [("monitoring", "0006_reading_rollups")]

    operations = [migrations.RunPython(distribute, migrations.RunPython.noop)]
