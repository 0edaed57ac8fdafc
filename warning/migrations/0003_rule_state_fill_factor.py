from django.db import migrations


class Migration(migrations.Migration):
    """Room on each page of the rule states for the next version of its rows.

    Evaluation moves a watermark on every state row it evaluates; with full
    pages each move wrote a new row version elsewhere and four index entries
    (0.15 % of updates were HOT in ``python -m bench.profile drain``). At
    fill factor 50 the update stays on its page (94 % HOT) and evaluation's
    database CPU fell by a fifth. Autovacuum visits the small, busy table
    after 1 % of it changed rather than 20 %.
    """

    dependencies = [("warning", "0002_rule_state_reading_id_watermark")]

    operations = [
        migrations.RunSQL(
            "ALTER TABLE warning_rulestate SET (fillfactor = 50, autovacuum_vacuum_scale_factor = 0.01,"
            " autovacuum_vacuum_threshold = 1000, autovacuum_analyze_scale_factor = 0.05)",
            "ALTER TABLE warning_rulestate RESET (fillfactor, autovacuum_vacuum_scale_factor,"
            " autovacuum_vacuum_threshold, autovacuum_analyze_scale_factor)",
        ),
    ]
