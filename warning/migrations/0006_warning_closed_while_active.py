from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("warning", "0005_sensor_search_trigram_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="warning",
            name="closed_while_active",
            field=models.BooleanField(default=False, verbose_name="closed while active"),
        ),
    ]
