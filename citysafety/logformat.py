"""Log lines as JSON objects, one a line (LOG_FORMAT=json), for log collectors."""

import json
import logging
from datetime import UTC, datetime

# What every LogRecord carries; anything else passed in ``extra`` goes out too.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "request_id"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
            "process": record.process,
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        # default=str: Django puts the request and the socket in ``extra``.
        return json.dumps(line, ensure_ascii=False, default=str)
