import time

from django.core.management.base import BaseCommand, CommandError
from django.db import OperationalError, connection

from monitoring import citus


class Command(BaseCommand):
    help = (
        "Wait until the database answers and, on Citus, until the worker nodes are registered: the compose "
        "file runs it before the migrations, which distribute the readings over the workers."
    )

    def add_arguments(self, parser):
        parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait before giving up")
        parser.add_argument(
            "--citus-workers",
            type=int,
            default=1,
            help="on Citus, wait for this many active worker nodes (the shards go to the nodes present)",
        )

    def handle(self, *args, timeout: float, citus_workers: int, **options):
        deadline = time.monotonic() + timeout
        waiting_for = "the database"
        while True:
            try:
                if citus.installed() and len(citus.worker_nodes()) < citus_workers:
                    waiting_for = (
                        f"{citus_workers} Citus worker node(s) (SELECT citus_add_node(...) on the coordinator)"
                    )
                else:
                    return
            except OperationalError as error:
                waiting_for = f"the database ({str(error).strip().splitlines()[0]})"
                # A fresh connection on the next try.
                connection.close()
            if time.monotonic() > deadline:
                raise CommandError(f"Gave up after {timeout:g} s waiting for {waiting_for}")
            time.sleep(1)
