"""The bench's knowledge of how evaluation and sensor state are stored.

Everything in bench/ that reads or writes evaluation's bookkeeping or the
sensor state goes through this module, so a redesign of either is adapted
here and nowhere else:

- ingestion keeps each sensor's newest reading on its state row
  (``monitoring_sensorstate``) and marks there when the oldest reading
  evaluation has not seen arrived (``unevaluated_since``) and its
  observation time (``unevaluated_observed_from``); evaluation clears both;
- evaluation keeps a watermark per (sensor, rule):
  ``warning_rulestate.last_reading_id``; readings of the sensor with a
  greater id are new to that rule. Ids grow with arrival.

Every function takes a DB-API cursor (Django's or psycopg2's) so that the
bench's sampler thread can use a connection of its own.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Lag:
    # Age of the oldest reading that some rule has not evaluated yet; 0 when
    # nothing waits.
    seconds: float
    sensors_behind: int
    exact: bool = True


def evaluation_lag(cursor) -> Lag:
    """The evaluation lag: how long the oldest unevaluated reading has waited.

    Read from the marks ingestion leaves on the sensors' state rows (the
    platform's own measure, ``monitoring.selectors.evaluation_backlog``):
    one pass over the narrow state table, whatever the history.
    """
    cursor.execute(
        "SELECT coalesce(extract(epoch FROM now() - min(unevaluated_since)), 0), count(unevaluated_since)"
        " FROM monitoring_sensorstate"
    )
    seconds, behind = cursor.fetchone()
    return Lag(seconds=max(float(seconds), 0.0), sensors_behind=behind)


def readings_evaluated(cursor, *, after_id: int) -> int:
    """How many readings with an id above ``after_id`` every rule of their sensor has evaluated."""
    cursor.execute(
        """
        SELECT count(*)
        FROM monitoring_reading AS r
        JOIN (
            SELECT sensor_id, min(coalesce(last_reading_id, 0)) AS mark
            FROM warning_rulestate GROUP BY sensor_id
        ) AS m ON m.sensor_id = r.sensor_id
        WHERE r.id > %s AND r.id <= m.mark
        """,
        [after_id],
    )
    return cursor.fetchone()[0]


def evaluation_mark_all_done(cursor) -> None:
    """Count every stored reading as evaluated, for every sensor and rule in effect.

    For readings the bench wrote itself (history, its warm-up) and for a
    backlog it gives up waiting for between phases, so that each phase's lag
    is its own. States are created where missing, so a sensor's first
    evaluation during a run does not go looking back through history.
    """
    # The state rows first, in id order, as ingestion and evaluation lock
    # them: a worker still evaluating holds some, and taking them in another
    # order deadlocks with it. Call inside a transaction.
    cursor.execute("SELECT sensor_id FROM monitoring_sensorstate ORDER BY sensor_id FOR NO KEY UPDATE")
    cursor.execute("SELECT coalesce(max(id), 0) FROM monitoring_reading")
    top = cursor.fetchone()[0]
    cursor.execute(
        """
        INSERT INTO warning_rulestate (sensor_id, rule_id, last_reading_id, evaluated_through)
        SELECT s.id, r.id, %s, st.latest_observed_at
        FROM monitoring_sensor AS s
        LEFT JOIN monitoring_sensorstate AS st ON st.sensor_id = s.id
        JOIN warning_thresholdrule AS r
          ON r.is_active AND (r.sensor_id = s.id OR (r.sensor_id IS NULL AND r.sensor_type_id = s.sensor_type_id))
        WHERE s.is_active
        ON CONFLICT (sensor_id, rule_id) DO UPDATE
        SET last_reading_id = EXCLUDED.last_reading_id, evaluated_through = EXCLUDED.evaluated_through
        """,
        [top],
    )
    cursor.execute(
        "UPDATE monitoring_sensorstate SET unevaluated_since = NULL, unevaluated_observed_from = NULL,"
        " unevaluated_reading_id_from = NULL"
        " WHERE unevaluated_since IS NOT NULL"
    )


def sensors_take_latest(cursor, *, after_id: int) -> None:
    """Set each sensor's latest reading from the readings written past ``after_id``.

    The history the bench writes with one INSERT … SELECT bypasses
    ingestion; this is what ingestion would have left on the state rows
    (less the unevaluated marks: the bench counts history as evaluated).
    """
    cursor.execute(
        """
        INSERT INTO monitoring_sensorstate AS st (sensor_id, latest_reading_id, latest_observed_at, latest_value)
        SELECT DISTINCT ON (sensor_id) sensor_id, id, observed_at, value
        FROM monitoring_reading WHERE id > %s
        ORDER BY sensor_id, observed_at DESC
        ON CONFLICT (sensor_id) DO UPDATE
        SET latest_reading_id = EXCLUDED.latest_reading_id, latest_observed_at = EXCLUDED.latest_observed_at,
            latest_value = EXCLUDED.latest_value
        """,
        [after_id],
    )
    cursor.execute(
        "UPDATE monitoring_sensor SET status = 'online' WHERE status <> 'online'"
        " AND id IN (SELECT sensor_id FROM monitoring_sensorstate WHERE latest_reading_id IS NOT NULL)"
    )
