"""gunicorn serving the gateways' HTTP API: `make run`'s "api" process and the
compose file's "api" service. The address comes from the command line
(`-b 127.0.0.1:8001`); daphne keeps the pages and the websockets.

Read as a Python file by `gunicorn -c gunicorn.conf.py`; it imports no Django.
"""

import os

# Sync workers: each process serves one request at a time, start to finish,
# on its own database connection. Ingestion is Python work (parsing,
# validation), so processes, not threads, are what run requests at once.
# Three on a 2-core machine: while one waits for PostgreSQL, the other two
# keep both cores busy (docs/operations.md, "Serving HTTP", has the figures).
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
worker_class = "sync"

# A worker keeps its database connection between requests instead of
# connecting for each one. The settings read DB_CONN_MAX_AGE (default 0,
# which daphne needs: under ASGI Django's persistent connections are not
# safe); the workers fork from this process and inherit the default set
# here, unless the environment chose a value.
os.environ.setdefault("DB_CONN_MAX_AGE", "60")

# A batch of 1,000 readings takes well under a second; a worker silent for
# 30 s is stuck and is replaced.
timeout = 30
# `make run` gives each process 20 s to stop after Ctrl-C; a worker finishes
# the request it is serving within this.
graceful_timeout = 10

accesslog = "-"
proc_name = "citysafety-api"
# gunicorn 25.1+ opens a control socket at one path per user ($HOME/.gunicorn):
# every instance on the machine (make run, the tests, a second checkout) would
# take it from the others, and in the image $HOME is not writable. Unused.
control_socket_disable = True


def post_worker_init(worker) -> None:
    """Say when a worker has loaded Django and takes requests.

    gunicorn listens before its workers have loaded the application, which
    takes seconds on a busy machine; the tests wait for this line from every
    worker rather than for the port.
    """
    worker.log.info("Worker ready (pid: %s)", worker.pid)
