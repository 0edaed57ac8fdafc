"""Exit 0 when a background process's heartbeat is fresh: a container health check.

python manage.py check_heartbeat beat --name beat@$HOSTNAME
"""

from django.core.management.base import BaseCommand, CommandError

from citysafety import health
from citysafety.models import ProcessKind


class Command(BaseCommand):
    help = "Exit with 0 when the process (or, without --name, any process of the kind) beats; else say why and exit 1."

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=ProcessKind.values)
        parser.add_argument("--name", help="the process's name: celery@host, beat@host or the bridge's client id")

    def handle(self, *args, kind: str, name: str | None, **options):
        check = next(check for check in health.process_checks() if check.name == kind)
        if name is None:
            if check.state != health.OK:
                raise CommandError(check.detail)
            self.stdout.write(f"{kind}: ok")
            return
        process = next((process for process in check.processes if process.name == name), None)
        if process is None:
            raise CommandError(f"{kind} {name!r} has never reported a heartbeat.")
        if process.state != health.OK:
            raise CommandError(f"{kind} {name!r} is {process.state} since {process.since}.")
        self.stdout.write(f"{kind} {name}: ok, last beat {process.age} s ago")
