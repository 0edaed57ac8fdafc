from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("warning", "0003_rule_state_fill_factor"),
    ]

    operations = [
        migrations.AddField(
            model_name="warning",
            name="closed_while_active",
            field=models.BooleanField(default=False, verbose_name="closed while active"),
        ),
    ]
