"""Indexes for the work-order queues: newest first, paged by (created_at, id).

Built concurrently: a city's database keeps taking work orders meanwhile.
(department, status, created_at, id) replaces (department, status), its prefix.
"""

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("dispatch", "0005_departments_move_to_organisation"),
    ]

    operations = [
        RemoveIndexConcurrently(
            model_name="workorder",
            name="dispatch_wo_departm_8287d4_idx",
        ),
        AddIndexConcurrently(
            model_name="workorder",
            index=models.Index(fields=["created_at", "id"], name="wo_created_idx"),
        ),
        AddIndexConcurrently(
            model_name="workorder",
            index=models.Index(
                condition=models.Q(("status", "closed"), _negated=True),
                fields=["created_at", "id"],
                name="wo_open_created_idx",
            ),
        ),
        AddIndexConcurrently(
            model_name="workorder",
            index=models.Index(fields=["department", "created_at", "id"], name="wo_dept_created_idx"),
        ),
        AddIndexConcurrently(
            model_name="workorder",
            index=models.Index(
                condition=models.Q(("status", "closed"), _negated=True),
                fields=["department", "created_at", "id"],
                name="wo_dept_open_created_idx",
            ),
        ),
        AddIndexConcurrently(
            model_name="workorder",
            index=models.Index(fields=["status", "created_at", "id"], name="wo_status_created_idx"),
        ),
        AddIndexConcurrently(
            model_name="workorder",
            index=models.Index(fields=["department", "status", "created_at", "id"], name="wo_dept_status_created_idx"),
        ),
    ]
