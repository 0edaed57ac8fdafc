"""Import an archive of readings: ``manage.py import_readings FILE [--format csv|xlsx] [--timezone ZONE]``."""

from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import ngettext

from monitoring import imports, services


class Command(BaseCommand):
    help = (
        "Store the readings of a CSV or Excel (.xlsx) archive with the columns sensor, observed_at, value."
        " Valid rows are kept whatever their age; each refused row is named with its column and the reason,"
        " and the command then exits with status 1. The readings are evaluated like any others; an episode"
        " that ended in the past becomes a historical warning, never dispatched."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--format", choices=imports.FORMATS, help="Default: from the file name's ending.")
        parser.add_argument(
            "--timezone",
            help="The zone of times written without one (Excel's dates). Default: the platform's TIME_ZONE.",
        )

    def handle(self, *args, file: Path, format: str | None, timezone: str | None, **options) -> None:  # noqa: A002
        try:
            zone = ZoneInfo(timezone) if timezone else None
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise CommandError(f"Unknown time zone {timezone!r}.") from exc
        try:
            with file.open("rb") as stream:
                result = services.readings_import(file=stream, name=file.name, kind=format, zone=zone)
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror or exc}.") from exc
        except imports.ArchiveError as exc:
            raise CommandError(f"{file}: {exc}") from exc
        for error in result.errors:
            self.stderr.write(str(error))
        rows = ngettext("%(count)d row", "%(count)d rows", result.rows) % {"count": result.rows}
        stored = ngettext("%(count)d reading stored", "%(count)d readings stored", result.accepted) % {
            "count": result.accepted
        }
        self.stdout.write(
            f"{file}: {rows}, {stored}, {result.duplicates} already stored, {len(result.errors)} refused."
        )
        if result.errors:
            refused = len(result.errors)
            raise CommandError(
                ngettext(
                    "%(count)d row was refused (listed above); the valid rows are stored.",
                    "%(count)d rows were refused (listed above); the valid rows are stored.",
                    refused,
                )
                % {"count": refused}
            )
