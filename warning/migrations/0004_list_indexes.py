"""Indexes for the warning lists: newest first, paged by (opened_at, id).

Built concurrently: a city's database keeps taking warnings meanwhile.
"""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("warning", "0003_rule_state_fill_factor"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="warning",
            index=models.Index(fields=["opened_at", "id"], name="warning_opened_idx"),
        ),
        AddIndexConcurrently(
            model_name="warning",
            index=models.Index(
                condition=models.Q(("status", "closed"), _negated=True),
                fields=["opened_at", "id"],
                name="warning_open_opened_idx",
            ),
        ),
        AddIndexConcurrently(
            model_name="warning",
            index=models.Index(fields=["level", "opened_at", "id"], name="warning_level_opened_idx"),
        ),
    ]
