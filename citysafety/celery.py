import atexit
import os
import socket

from celery import Celery
from celery.signals import beat_init, worker_ready, worker_shutdown

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "citysafety.settings")

app = Celery("citysafety")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# The heartbeat of this process, when it is a worker or beat.
_pacemaker = None


@worker_ready.connect
def _start_worker_heartbeat(sender, **kwargs) -> None:
    from citysafety.heartbeats import Pacemaker  # Django's apps are ready only once the worker is
    from citysafety.models import ProcessKind  # a model module: the same wait for the apps

    global _pacemaker
    _pacemaker = Pacemaker(kind=ProcessKind.WORKER, name=sender.hostname).start()


@worker_shutdown.connect
def _stop_worker_heartbeat(sender, **kwargs) -> None:
    if _pacemaker is not None:
        _pacemaker.stop()


@beat_init.connect
def _start_beat_heartbeat(sender, **kwargs) -> None:
    from citysafety.heartbeats import Pacemaker  # Django's apps are ready only once beat is
    from citysafety.models import ProcessKind  # a model module: the same wait for the apps

    global _pacemaker
    _pacemaker = Pacemaker(kind=ProcessKind.BEAT, name=f"beat@{socket.gethostname()}").start()
    # Celery sends no signal when beat ends; SIGTERM leaves it through SystemExit.
    atexit.register(_pacemaker.stop)
