"""The live feed of the one map and the department queues."""

import time

from asgiref.sync import async_to_sync
from channels.generic.websocket import JsonWebsocketConsumer
from django.conf import settings
from django.contrib.auth import get_user_model

from citysafety import realtime
from organisation.roles import is_duty_officer
from organisation.selectors import department_id_of


class LiveConsumer(JsonWebsocketConsumer):
    """Joins the groups the user may hear and forwards their messages.

    Each handler checks again that this user may see the event: a message
    reaching the wrong group must still not reach the wrong person.
    """

    def connect(self) -> None:
        user = self.scope.get("user")
        self.groups_joined: list[str] = []
        if user is None or not user.is_authenticated:
            # Accept first: a socket refused during the handshake reaches the
            # browser as a bare 1006, and the page could not tell "signed
            # out" from "network down".
            self.accept()
            self.close(code=4401)
            return
        self.user_id = user.pk
        self._take_rights(user)
        self.accept()
        self.send_json({"type": "hello", "duty": self.is_duty, "department": self.department_id})

    def _take_rights(self, user) -> None:
        self.is_duty = is_duty_officer(user)
        self.department_id = department_id_of(user)
        wanted = [realtime.DUTY_GROUP] if self.is_duty else []
        wanted.append(realtime.user_group(user.pk))
        if self.department_id:
            wanted.append(realtime.department_group(self.department_id))
        for group in set(self.groups_joined) - set(wanted):
            async_to_sync(self.channel_layer.group_discard)(group, self.channel_name)
        for group in set(wanted) - set(self.groups_joined):
            async_to_sync(self.channel_layer.group_add)(group, self.channel_name)
        self.groups_joined = wanted
        self.rights_checked_at = time.monotonic()

    def _rights_still_hold(self) -> bool:
        if time.monotonic() - self.rights_checked_at < settings.LIVE_RIGHTS_TTL_SECONDS:
            return True
        user = get_user_model().objects.filter(pk=self.user_id, is_active=True).first()
        if user is None:
            self.close(code=4401)
            return False
        self._take_rights(user)
        return True

    def disconnect(self, code: int) -> None:
        for group in self.groups_joined:
            async_to_sync(self.channel_layer.group_discard)(group, self.channel_name)

    def receive_json(self, content, **kwargs) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            self.send_json({"type": "pong"})

    def warning_changed(self, event: dict) -> None:
        if self._rights_still_hold() and self.is_duty:
            self.send_json({"type": "warning.changed", "warning": event["payload"]})

    def verification_changed(self, event: dict) -> None:
        # The verification queue is the duty officers' alone: department
        # staff never learn of a warning held back from them.
        if self._rights_still_hold() and self.is_duty:
            self.send_json({"type": "verification.changed", "warning": event["payload"]})

    def gateway_outage_changed(self, event: dict) -> None:
        # Gateways are the city's: the duty officers' map alone lists their outages.
        if self._rights_still_hold() and self.is_duty:
            self.send_json({"type": "gateway_outage.changed", "outages": event["payload"]["outages"]})

    def work_order_changed(self, event: dict) -> None:
        order = event["payload"]
        if self._rights_still_hold() and (self.is_duty or order["department"]["id"] == self.department_id):
            self.send_json({"type": "work_order.changed", "work_order": order})

    def notification_created(self, event: dict) -> None:
        notification = event["payload"]
        # Only the recipient hears it, and only while the matter is still
        # theirs to see (a person moved to another department is not told).
        if (
            self._rights_still_hold()
            and notification.get("recipient") == self.user_id
            and (
                self.is_duty
                or (notification["department"] is not None and notification["department"] == self.department_id)
            )
        ):
            self.send_json({"type": "notification.created", "notification": notification})
