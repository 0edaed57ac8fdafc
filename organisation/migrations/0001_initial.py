"""Districts, departments and memberships move into the organisation app.

They were created by monitoring 0001 (districts) and dispatch 0001/0002
(departments, memberships). The tables are renamed, not copied: every row,
id, foreign key (sensor owners and districts, work orders, routing policies,
users' departments) and sequence stays as it was. This migration therefore
depends on the migrations that made those tables; it is history, and new
migrations of this app need nothing above it.
"""

import django.contrib.gis.db.models.fields
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

RENAMES = (
    ("monitoring_district", "organisation_district"),
    ("dispatch_department", "organisation_department"),
    ("dispatch_membership", "organisation_membership"),
)


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("monitoring", "0002_sensor_newest_reading_id"),
        ("dispatch", "0004_work_orders_follow_escalation"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(f"ALTER TABLE {old} RENAME TO {new}", f"ALTER TABLE {new} RENAME TO {old}")
                for old, new in RENAMES
            ],
            state_operations=[
                migrations.CreateModel(
                    name="District",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "code",
                            models.CharField(
                                help_text="GB/T 2260 code", max_length=12, unique=True, verbose_name="code"
                            ),
                        ),
                        ("name", models.CharField(max_length=80, verbose_name="name")),
                        (
                            "boundary",
                            django.contrib.gis.db.models.fields.MultiPolygonField(srid=4326, verbose_name="boundary"),
                        ),
                    ],
                    options={
                        "verbose_name": "district",
                        "verbose_name_plural": "districts",
                        "ordering": ["code"],
                    },
                ),
                migrations.CreateModel(
                    name="Department",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("code", models.SlugField(max_length=40, unique=True, verbose_name="code")),
                        ("name", models.CharField(max_length=120, verbose_name="name")),
                        (
                            "kind",
                            models.CharField(
                                choices=[
                                    ("enterprise", "Operating enterprise / asset owner"),
                                    ("industry", "Industry department"),
                                    ("district_government", "District government"),
                                    ("command_office", "City command office"),
                                ],
                                max_length=20,
                                verbose_name="kind",
                            ),
                        ),
                        ("email", models.EmailField(blank=True, max_length=254, verbose_name="e-mail")),
                        ("phone", models.CharField(blank=True, max_length=40, verbose_name="phone")),
                        (
                            "district",
                            models.OneToOneField(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="government",
                                to="organisation.district",
                                verbose_name="district governed",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "department",
                        "verbose_name_plural": "departments",
                        "ordering": ["kind", "code"],
                    },
                ),
                migrations.CreateModel(
                    name="Membership",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "department",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="memberships",
                                to="organisation.department",
                                verbose_name="department",
                            ),
                        ),
                        (
                            "user",
                            models.OneToOneField(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="membership",
                                to=settings.AUTH_USER_MODEL,
                                verbose_name="user",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "department membership",
                        "verbose_name_plural": "department memberships",
                    },
                ),
            ],
        ),
    ]
