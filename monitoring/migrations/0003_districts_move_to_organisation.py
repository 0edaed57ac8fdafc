"""Districts now belong to the organisation app.

organisation 0001 renamed the table; here monitoring's state lets go of the
model and points sensors at the moved district and department. After
dispatch 0005, whose departments pointed at monitoring's district until then.

The content types of the three moved models follow them, so admin history
and permissions granted on them stay attached. This runs here, the last
step of the move, because only now does every model point at the
organisation app (a migration's Python code sees the whole state).
"""

import django.db.models.deletion
from django.db import migrations, models

MOVED = (("monitoring", "district"), ("dispatch", "department"), ("dispatch", "membership"))


def move_content_types(apps, schema_editor):
    content_type = apps.get_model("contenttypes", "ContentType")
    for app_label, model in MOVED:
        if content_type.objects.filter(app_label=app_label, model=model).exists():
            # One created for the new label in the meantime is empty: the old
            # one is what log entries and permissions point at.
            content_type.objects.filter(app_label="organisation", model=model).delete()
            content_type.objects.filter(app_label=app_label, model=model).update(app_label="organisation")


def move_content_types_back(apps, schema_editor):
    content_type = apps.get_model("contenttypes", "ContentType")
    for app_label, model in MOVED:
        content_type.objects.filter(app_label="organisation", model=model).update(app_label=app_label)


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0002_sensor_newest_reading_id"),
        ("organisation", "0001_initial"),
        ("dispatch", "0005_departments_move_to_organisation"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="sensor",
                    name="district",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="sensors",
                        to="organisation.district",
                        verbose_name="district",
                    ),
                ),
                migrations.AlterField(
                    model_name="sensor",
                    name="owner_department",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="owned_sensors",
                        to="organisation.department",
                        verbose_name="owner department",
                    ),
                ),
                migrations.DeleteModel(name="District"),
            ],
        ),
        migrations.RunPython(move_content_types, move_content_types_back),
    ]
