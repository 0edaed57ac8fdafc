"""The bench's knowledge of how evaluation and sensor state are stored.

Everything in bench/ that reads or writes evaluation's bookkeeping or the
sensor state goes through this module, so a redesign of either is adapted
here and nowhere else. Today (issue #7 is changing it):

- ingestion sets ``monitoring_sensor.latest_reading_id`` (and
  ``latest_observed_at``, ``latest_value``) in the batch's transaction;
- evaluation keeps a watermark per (sensor, rule):
  ``warning_rulestate.last_reading_id``; readings of the sensor with a
  greater id are new to that rule. Ids grow with arrival.

Every function takes a DB-API cursor (Django's or psycopg2's) so that the
bench's sampler thread can use a connection of its own.
"""

from dataclasses import dataclass

# Readings examined per query while looking for the oldest unevaluated one:
# a range of the primary key, so each query costs the same however large
# the table is.
LAG_WINDOW = 20_000


@dataclass(frozen=True)
class Lag:
    # Age of the oldest reading that some rule has not evaluated yet; 0 when
    # nothing waits.
    seconds: float
    sensors_behind: int
    # False when the search gave up after ``max_scan`` readings: ``seconds``
    # is then the age of the last reading examined, an upper bound.
    exact: bool = True


def evaluation_lag(cursor, *, max_scan: int = 2_000_000) -> Lag:
    """The evaluation lag: how long the oldest unevaluated reading has waited.

    Sensors behind are those whose newest reading id is past one of their
    rules' watermarks (the same test as the periodic sweep). The oldest
    unevaluated reading is the smallest id past its own sensor's watermark;
    ids grow with arrival, so it is found by walking the primary key upward
    from the smallest watermark, a bounded window at a time, rather than by
    scanning each sensor's history (which grows with the table). The window
    is checked here, not joined in SQL: with thousands of sensors behind,
    the planner's guess for a join with an array is off by orders of
    magnitude and a one-second sample took seconds. Received time is the
    ingest transaction's clock; the age uses the database's.
    """
    cursor.execute(
        """
        SELECT rs.sensor_id, min(coalesce(rs.last_reading_id, 0))
        FROM warning_rulestate AS rs
        JOIN monitoring_sensor AS s ON s.id = rs.sensor_id
        WHERE s.latest_reading_id > coalesce(rs.last_reading_id, 0)
        GROUP BY rs.sensor_id
        """
    )
    behind = dict(cursor.fetchall())
    if not behind:
        return Lag(seconds=0.0, sensors_behind=0)
    cursor.execute("SELECT coalesce(max(id), 0) FROM monitoring_reading")
    top = cursor.fetchone()[0]
    low = min(behind.values())
    scanned = 0
    found = None
    while found is None and low < top and scanned < max_scan:
        cursor.execute(
            "SELECT id, sensor_id FROM monitoring_reading WHERE id > %s ORDER BY id LIMIT %s", [low, LAG_WINDOW]
        )
        rows = cursor.fetchall()
        if not rows:
            break
        found = next((rid for rid, sensor_id in rows if rid > behind.get(sensor_id, rid)), None)
        scanned += len(rows)
        low = rows[-1][0]
    exact = found is not None
    cursor.execute(
        "SELECT extract(epoch FROM now() - received_at) FROM monitoring_reading WHERE id = %s", [found or low]
    )
    row = cursor.fetchone()
    return Lag(seconds=max(float(row[0]), 0.0) if row else 0.0, sensors_behind=len(behind), exact=exact)


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
    # The sensors first, in id order, as ingestion and evaluation lock them:
    # a worker still evaluating holds some and their states, and taking the
    # states in another order deadlocks with it. Call inside a transaction.
    cursor.execute("SELECT id FROM monitoring_sensor ORDER BY id FOR NO KEY UPDATE")
    cursor.execute("SELECT coalesce(max(id), 0) FROM monitoring_reading")
    top = cursor.fetchone()[0]
    cursor.execute(
        """
        INSERT INTO warning_rulestate (sensor_id, rule_id, last_reading_id, evaluated_through)
        SELECT s.id, r.id, %s, s.latest_observed_at
        FROM monitoring_sensor AS s
        JOIN warning_thresholdrule AS r
          ON r.is_active AND (r.sensor_id = s.id OR (r.sensor_id IS NULL AND r.sensor_type_id = s.sensor_type_id))
        WHERE s.is_active
        ON CONFLICT (sensor_id, rule_id) DO UPDATE
        SET last_reading_id = EXCLUDED.last_reading_id, evaluated_through = EXCLUDED.evaluated_through
        """,
        [top],
    )


def sensors_take_latest(cursor, *, after_id: int) -> None:
    """Set each sensor's latest reading from the readings written past ``after_id``.

    The history the bench writes with one INSERT … SELECT bypasses
    ingestion; this is what ingestion would have left on the sensor rows.
    """
    cursor.execute(
        """
        UPDATE monitoring_sensor AS s
        SET latest_reading_id = n.id, latest_observed_at = n.observed_at, latest_value = n.value, status = 'online'
        FROM (
            SELECT DISTINCT ON (sensor_id) sensor_id, id, observed_at, value
            FROM monitoring_reading WHERE id > %s
            ORDER BY sensor_id, observed_at DESC
        ) AS n
        WHERE s.id = n.sensor_id
        """,
        [after_id],
    )
