"""Run as its own process by test_concurrency: evaluate sensors once started.

Usage: python evaluate_in_process.py START_FILE STOP_FILE SENSOR_ID [SENSOR_ID …]
Waits for START_FILE to exist (so that two processes begin together), then
evaluates the sensors over and over while the test writes readings, until
STOP_FILE exists, and once more after that.
"""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "citysafety.settings")

import django

django.setup()

from warning.services import sensor_evaluate  # noqa: E402


def main() -> None:
    start_file, stop_file, *sensor_ids = sys.argv[1:]
    deadline = time.monotonic() + 60
    while not Path(start_file).exists():
        if time.monotonic() > deadline:
            sys.exit("start file never appeared")
        time.sleep(0.001)
    transitions = 0
    while True:
        stopping = Path(stop_file).exists()
        for sensor_id in sensor_ids:
            transitions += sensor_evaluate(sensor_id=int(sensor_id))
        if stopping or time.monotonic() > deadline + 60:
            break
    print(f"transitions={transitions}")


if __name__ == "__main__":
    main()
