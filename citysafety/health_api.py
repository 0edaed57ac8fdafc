"""/api/v1/health/: the background processes' state, for the duty officers' banner.

The page polls this (it is cheap: one query on the heartbeats) and shows a
red banner while a worker, beat or the MQTT bridge is down: warnings are
then evaluated late, deadlines not escalated, MQTT readings not taken.
"""

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from citysafety import health
from citysafety.models import ProcessKind


class ProcessSerializer(serializers.Serializer):
    name = serializers.CharField()
    state = serializers.ChoiceField(choices=[health.OK, health.STALE, health.STOPPED])
    age = serializers.FloatField(help_text="Seconds since its last heartbeat.")
    last_seen = serializers.DateTimeField()
    started_at = serializers.DateTimeField()
    since = serializers.DateTimeField(allow_null=True)


class ProcessKindSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ProcessKind.choices)
    label = serializers.CharField(help_text="The kind of process, in the reader's language.")
    state = serializers.ChoiceField(choices=[health.OK, health.STALE, health.STOPPED, health.MISSING, health.FAILING])
    since = serializers.DateTimeField(allow_null=True, help_text="Since when it is down (null while it runs).")
    message = serializers.CharField(help_text="What the banner says, in the reader's language; empty while it runs.")
    processes = ProcessSerializer(many=True)


class HealthSerializer(serializers.Serializer):
    ok = serializers.BooleanField(help_text="False while any kind of background process is down.")
    processes = ProcessKindSerializer(many=True)


def _message(kind: ProcessKind, check: health.Check) -> str:
    if check.state == health.OK:
        return ""
    return {
        ProcessKind.WORKER: _("The Celery worker is not running: readings are stored but warnings are evaluated late."),
        ProcessKind.BEAT: _("Celery beat is not running: overdue work orders are not escalated and sweeps do not run."),
        ProcessKind.MQTT_BRIDGE: _("The MQTT bridge is not running: readings from MQTT gateways are not taken in."),
    }[kind]


class HealthView(APIView):
    """Any signed-in person may read it: it holds no department's data, only
    whether the platform's own processes run."""

    @extend_schema(responses={200: HealthSerializer}, summary="State of the worker, beat and MQTT bridge")
    def get(self, request: Request) -> Response:
        checks = {check.name: check for check in health.process_checks()}
        kinds = []
        for kind in ProcessKind:
            check = checks[str(kind)]
            kinds.append(
                {
                    "kind": str(kind),
                    "label": str(kind.label),
                    "state": check.state,
                    "since": check.since,
                    "message": _message(kind, check),
                    "processes": [vars(process) for process in check.processes],
                }
            )
        data = {"ok": all(item["state"] == health.OK for item in kinds), "processes": kinds}
        return Response(HealthSerializer(data).data)
