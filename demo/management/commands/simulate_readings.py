import random
import time
from datetime import UTC, datetime

import requests
from django.core.management.base import BaseCommand, CommandError, CommandParser

from demo.catalogue import DEMO_GATEWAYS
from demo.simulator import IncidentKind, Poster, Simulation, demo_sensors, issue_tokens, run_rounds


class Command(BaseCommand):
    help = (
        "Post simulated readings of the demo city's sensors to the ingest API, one request per gateway per round, "
        "with an incident (gas leak, pipe burst, river rising) now and then."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="Base URL of the CitySafety server.")
        parser.add_argument("--interval", type=float, default=10.0, help="Seconds between rounds (at least 1).")
        parser.add_argument(
            "--incident-every",
            type=float,
            default=180.0,
            help="Seconds between incidents; 0 plays none unless --incident asks for one.",
        )
        parser.add_argument(
            "--incident",
            choices=[kind.value for kind in IncidentKind],
            help="Start this incident in the first round; periodic incidents are then of this kind only.",
        )
        parser.add_argument(
            "--once",
            action="store_true",
            help="Post one round and stop; with --incident, play that incident to its end and stop.",
        )
        parser.add_argument("--seed", type=int, help="Seed of the random values, for a repeatable run.")

    def handle(self, *args, **options) -> None:
        # Rounds are stamped in whole seconds; two rounds in one second would
        # give every sensor two readings at one instant, and the API keeps one.
        if options["interval"] < 1:
            raise CommandError("--interval must be at least 1 second.")
        sensors = demo_sensors(DEMO_GATEWAYS)
        if not sensors:
            raise CommandError("No demo sensors: run `manage.py load_demo_city` first.")
        tokens = issue_tokens({s.gateway for s in sensors})
        sensors = [s for s in sensors if s.gateway in tokens]
        kinds = [IncidentKind(options["incident"])] if options["incident"] else list(IncidentKind)
        simulation = Simulation(
            sensors,
            rng=random.Random(options["seed"]),
            incident_every=options["incident_every"],
            incident_kinds=kinds,
        )
        start = datetime.now(UTC).replace(microsecond=0)
        if options["incident"] and simulation.start_incident(kinds[0], start) is None:
            raise CommandError(f"No sensor can play {options['incident']} (missing sensors or threshold rules).")
        self.stdout.write(
            f"Posting {len(simulation.sensors)} sensors through {len(tokens)} gateways to {options['url']} "
            f"every {options['interval']:g} s (fresh gateway tokens issued). Ctrl-C stops."
        )
        with requests.Session() as session:
            poster = Poster(
                session, options["url"], tokens, reissue=lambda code: issue_tokens([code]).get(code, tokens[code])
            )
            try:
                run_rounds(
                    simulation,
                    poster,
                    clock=lambda: datetime.now(UTC).replace(microsecond=0),
                    sleep=time.sleep,
                    interval=options["interval"],
                    write=self.stdout.write,
                    rounds=1 if options["once"] and not options["incident"] else None,
                    until_idle=bool(options["once"] and options["incident"]),
                )
            except KeyboardInterrupt:
                self.stdout.write("Stopped.")
