"""The MQTT bridge: gateways' messages from the broker, ingested by a pool of threads.

Delivery is QoS 1 end to end. The bridge speaks MQTT v5 with a session that
outlives the connection (``MQTT_SESSION_EXPIRY_SECONDS``) and acknowledges
each message by hand: the PUBACK leaves only once the message's readings are
committed and the broker has acknowledged the reply. A message the bridge
took but did not finish (it was killed, the connection dropped) stays in its
session and comes again when it reconnects under the same client id; the
readings it may already have stored then count as duplicates, which the
uniqueness of (sensor, observed_at) makes harmless.

Flow control is the broker's: the bridge announces a Receive Maximum, the
number of unacknowledged messages the broker may send it, so a flood waits
in the broker rather than in this process's memory.

Several bridges (each with its own client id) split the gateways' topics as
one shared subscription (``mqtt.shared_subscription``): the broker hands
each message to one of them.
"""

import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from django.db import close_old_connections, connections
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from monitoring.mqtt import Reply, error_reply, handle_message, shared_subscription, subscription

log = logging.getLogger("monitoring.mqtt")

# How long a worker waits for the broker to acknowledge a reply before it
# gives up on acknowledging the message (which then comes again with the
# session once the connection is renewed). On a healthy connection the answer
# takes milliseconds; the keepalive notices a dead one within one and a half keepalives (45 s).
REPLY_TIMEOUT_SECONDS = 60.0
KEEPALIVE_SECONDS = 30


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int = 1883
    username: str | None = None
    password: str | None = None


class Bridge:
    """One bridge process: paho's network thread receives, ``workers`` threads ingest.

    Each worker thread holds a database connection of its own (Django's
    connections are per thread) and closes it when the bridge stops.
    """

    def __init__(
        self,
        *,
        broker: BrokerAddress,
        client_id: str,
        workers: int,
        in_flight: int,
        session_expiry: int,
        announce: Callable[[str], None],
    ) -> None:
        self.broker = broker
        self.workers = workers
        self.in_flight = in_flight
        self.session_expiry = session_expiry
        self.announce = announce
        self.handled = 0
        self.failure: str | None = None
        self._stopping = threading.Event()
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._busy = 0
        # Which connection a message came on: a packet id means something only
        # on its own connection (after a reconnection the broker sends the
        # unacknowledged messages again, and may give an acknowledged id to
        # another message), so a message from an earlier one is not acknowledged.
        self._connection = 0
        self._session_resumed = False
        # Unbounded on purpose: the broker never has more than ``in_flight``
        # unacknowledged messages out to this bridge, and the network thread
        # must never block (it sends the acknowledgements and the replies).
        self._queue: queue.SimpleQueue[tuple[int, mqtt.MQTTMessage] | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._work, name=f"mqtt-worker-{number}", daemon=True)
            for number in range(1, workers + 1)
        ]
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5, manual_ack=True
        )
        if broker.username:
            client.username_pw_set(broker.username, broker.password)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        self.client = client

    # --- Life cycle -----------------------------------------------------------

    def run(self) -> None:
        """Connect (retrying until the broker answers) and bridge until ``stop()``."""
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = self.session_expiry
        properties.ReceiveMaximum = self.in_flight
        for thread in self._threads:
            thread.start()
        # clean_start=False on the first connection too: paho's default starts
        # the first one clean, which would throw away what the broker kept for
        # this bridge while it was down.
        self.client.connect_async(
            self.broker.host, self.broker.port, keepalive=KEEPALIVE_SECONDS, clean_start=False, properties=properties
        )
        self.client.loop_start()
        try:
            # A timeout, so that signal handlers run promptly in this thread.
            while not self._stopped.wait(timeout=1.0):
                pass
        finally:
            self._shut_down()

    def stop(self) -> None:
        """Ask ``run()`` to finish; safe to call from a signal handler."""
        self._stopped.set()

    def _shut_down(self) -> None:
        # Messages not started are left unacknowledged: the session keeps them
        # for the next start. Those in progress finish and are acknowledged,
        # for which the network thread keeps running until they are done.
        self._stopping.set()
        for _ in self._threads:
            self._queue.put(None)
        deadline = time.monotonic() + REPLY_TIMEOUT_SECONDS
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        self.client.disconnect()
        self.client.loop_stop()
        self.announce(f"mqtt bridge: stopped after handling {self.handled} messages")

    # --- Network thread -------------------------------------------------------

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("MQTT connection refused: %s", reason_code)
            return
        self._connection += 1
        self._session_resumed = flags.session_present
        # Subscribing again when the broker kept the session is harmless, and
        # needed when it did not (a broker without persistence, restarted).
        client.subscribe(shared_subscription(), qos=1)
        if shared_subscription() != subscription():
            # A session from before the bridges shared the topic (or with
            # MQTT_SHARE_GROUP empty) holds the plain subscription too, which
            # would bring every message a second time. Its queued messages
            # still come, once.
            client.unsubscribe(subscription())

    def _on_subscribe(self, client, userdata, mid, reason_code_list, properties) -> None:
        refused = [code for code in reason_code_list if code.is_failure]
        if refused:
            # e.g. "Shared Subscriptions not supported": without the
            # subscription the bridge would run and hear nothing.
            self.failure = f"The broker refused the subscription to {shared_subscription()}: {refused[0]}"
            log.error(self.failure)
            self.stop()
            return
        self.announce(
            f"mqtt bridge: connected to {self.broker.host}:{self.broker.port}, listening on {shared_subscription()} "
            f"with {self.workers} workers, at most {self.in_flight} messages in flight"
        )

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        if self._stopping.is_set():
            return  # not acknowledged: it comes again with the session
        self._queue.put((self._connection, message))

    # --- Worker threads -------------------------------------------------------

    def _work(self) -> None:
        try:
            while (item := self._queue.get()) is not None:
                received_on, message = item
                if self._stopping.is_set():
                    continue
                if received_on != self._connection and self._session_resumed:
                    continue  # the resumed session brings it again
                try:
                    self._handle(received_on, message)
                except Exception:
                    # The worker lives on; the message, unacknowledged, comes
                    # again with the next connection.
                    log.exception("mqtt worker failed on a message of %s", message.topic)
        finally:
            connections.close_all()

    def _handle(self, received_on: int, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self._busy += 1
            busy = self._busy
        try:
            close_old_connections()
            try:
                reply = handle_message(message.topic, message.payload)
            except Exception:
                # Anyone may publish to the broker: one poisonous message must
                # not stop the bridge (and, redelivered at QoS 1, stop it again
                # on every restart). It is logged and answered, then dropped.
                log.exception("mqtt message on %s could not be handled", message.topic)
                reply = error_reply(message.topic)
            finally:
                close_old_connections()
        finally:
            with self._lock:
                self._busy -= 1
        if reply is not None:
            if not self._publish(reply):
                log.warning("mqtt %s: the reply was not confirmed; the message stays unacknowledged", message.topic)
                return
            log.info("mqtt %s -> %s (%d in progress)", message.topic, reply.body.get("status"), busy)
        with self._lock:
            self.handled += 1
        if received_on == self._connection:
            self.client.ack(message.mid, message.qos)

    def _publish(self, reply: Reply) -> bool:
        """Publish a reply at QoS 1 and wait until the broker has it."""
        info = self.client.publish(reply.topic, json.dumps(reply.body, ensure_ascii=False), qos=1)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            return False  # no connection: paho sends it on reconnecting, the message comes again
        try:
            info.wait_for_publish(timeout=REPLY_TIMEOUT_SECONDS)
        except (ValueError, RuntimeError):
            return False
        return info.is_published()
