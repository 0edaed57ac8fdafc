"""Departments and memberships now belong to the organisation app.

organisation 0001 renamed their tables; here dispatch's state lets go of
the models and points work orders and routing policies at the moved
department. (monitoring 0003 moves the content types, once every model
points at the organisation app.)
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("dispatch", "0004_work_orders_follow_escalation"),
        ("organisation", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="workorder",
                    name="department",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="work_orders",
                        to="organisation.department",
                        verbose_name="department",
                    ),
                ),
                migrations.AlterField(
                    model_name="routingpolicy",
                    name="departments",
                    field=models.ManyToManyField(
                        blank=True,
                        related_name="routing_policies",
                        to="organisation.department",
                        verbose_name="departments",
                    ),
                ),
                migrations.DeleteModel(name="Membership"),
                migrations.DeleteModel(name="Department"),
            ],
        ),
    ]
