#!/usr/bin/env python3
"""The shop's notifications service: a JetMesh subscriber in Python, standard library only.

It joins the mesh over HTTP (docs/http.md), not through the TypeScript runtime: a
jetmesh-dispatcher POSTs each shop.shipment.dispatched.v1 event to POST /events in CloudEvents
HTTP binary mode; the service "sends" the customer a notification (a log line: the shop has no
mail server) and answers 200 with a shop.notification.sent.v1 CloudEvent, which the dispatcher
publishes back into the stream with an id derived from the shipment event's, so a redelivered
shipment never notifies twice in the stream.

Status codes it answers follow the dispatcher's contract: 200 (+ reply) handled; 400 for an
event it can never handle (dead-lettered); 503 while shutting down (retried later).

Environment: HTTP_PORT (8080), HTTP_HOST (0.0.0.0), LOG_LEVEL (info; debug logs every event).
Endpoints: POST /events, GET /healthz, GET /readyz, GET /metrics (Prometheus text).
"""
import json
import os
import signal
import sys
import threading
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, unquote

SERVICE = "notifications"
SHIPMENT_DISPATCHED = "shop.shipment.dispatched.v1"
NOTIFICATION_SENT = "shop.notification.sent.v1"
SOURCE = "/shop/notifications"
MAX_BODY = 1024 * 1024
LEVELS = {"debug": 10, "info": 20, "warn": 30, "error": 40, "fatal": 50, "silent": 100}

stopping = threading.Event()
lock = threading.Lock()
counters = {}  # (outcome) -> count
in_flight = 0
idle = threading.Condition(lock)


def log(level, msg, **fields):
    if LEVELS.get(level, 20) < LEVELS.get(os.environ.get("LOG_LEVEL", "info"), 20):
        return
    line = {"level": level, "time": datetime.now(timezone.utc).isoformat(), "service": SERVICE, "msg": msg, **fields}
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


def count(outcome):
    with lock:
        counters[outcome] = counters.get(outcome, 0) + 1


def header_value(value):
    """Percent-encodes a ce- header value as the CloudEvents HTTP binding requires."""
    return quote(value, safe="!#$&'()*+,/:;<=>?@[\\]^_`{|}~-.")


class BadEvent(Exception):
    pass


def read_event(headers, body):
    """A CloudEvent from binary (ce- headers) or structured (application/cloudevents+json) mode."""
    ctype = headers.get("content-type", "")
    if ctype.lower().startswith("application/cloudevents+json"):
        try:
            event = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise BadEvent(f"structured event is not JSON: {err}")
        if not isinstance(event, dict):
            raise BadEvent("structured event must be a JSON object")
        return event
    event = {k[3:]: unquote(v) for k, v in headers.items() if k.lower().startswith("ce-")}
    if event.get("specversion") != "1.0":
        raise BadEvent("not a CloudEvent 1.0: header ce-specversion is missing or not 1.0")
    if ctype:
        event["datacontenttype"] = ctype
    if ctype.split(";")[0].strip().lower() in ("application/json", "text/json") or ctype.split(";")[0].strip().lower().endswith("+json"):
        try:
            event["data"] = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise BadEvent(f"data is not JSON: {err}")
    else:
        event["data"] = body
    return event


def notify(event):
    """Sends the notification (here: a log line) and returns the data of the reply."""
    if event.get("type") != SHIPMENT_DISPATCHED:
        raise BadEvent(f"unexpected type {event.get('type')!r}: this service handles {SHIPMENT_DISPATCHED}")
    data = event.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("orderId"), str) or not isinstance(data.get("shipmentId"), str):
        raise BadEvent("data must be a shipment with orderId and shipmentId")
    log("info", "customer notified", orderId=data["orderId"], shipmentId=data["shipmentId"], eventId=event.get("id"))
    return {
        "orderId": data["orderId"],
        "shipmentId": data["shipmentId"],
        "channel": "email",
        "template": "order-shipped",
        "carrier": data.get("carrier", ""),
    }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "jetmesh-notifications"

    def log_message(self, fmt, *args):  # access logs only at debug level
        log("debug", fmt % args)

    def send(self, status, body=b"", headers=None):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/healthz":
            return self.send(200, b"ok\n", {"content-type": "text/plain"})
        if self.path == "/readyz":
            ready = not stopping.is_set()
            return self.send(200 if ready else 503, json.dumps({"ready": ready}).encode() + b"\n", {"content-type": "application/json"})
        if self.path == "/metrics":
            with lock:
                lines = ["# HELP notifications_events_total Events received, by outcome.", "# TYPE notifications_events_total counter"]
                lines += [f'notifications_events_total{{outcome="{k}"}} {v}' for k, v in sorted(counters.items())]
            return self.send(200, ("\n".join(lines) + "\n").encode(), {"content-type": "text/plain; version=0.0.4"})
        self.send(404, b'{"error":"not found"}\n', {"content-type": "application/json"})

    def do_POST(self):
        global in_flight
        with lock:
            in_flight += 1
        try:
            self.handle_event()
        finally:
            with lock:
                in_flight -= 1
                idle.notify_all()

    def handle_event(self):
        if self.path.split("?")[0] not in ("/", "/events"):
            return self.send(404, b'{"error":"not found"}\n', {"content-type": "application/json"})
        length = int(self.headers.get("content-length") or 0)
        if length > MAX_BODY:
            count("too_large")
            return self.send(413, b"event too large\n", {"content-type": "text/plain", "connection": "close"})
        body = self.rfile.read(length)
        if stopping.is_set():
            count("stopping")
            return self.send(503, b"shutting down\n", {"content-type": "text/plain", "retry-after": "1"})
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            event = read_event(headers, body)
            reply = notify(event)
        except BadEvent as err:
            count("refused")
            log("warn", "refused event", error=str(err), eventId=headers.get("ce-id"))
            return self.send(400, (str(err) + "\n").encode(), {"content-type": "text/plain"})
        count("notified")
        payload = json.dumps(reply, separators=(",", ":")).encode()
        self.send(
            200,
            payload,
            {
                # The dispatcher replaces the id with one derived from the shipment event's.
                "ce-specversion": "1.0",
                "ce-id": str(uuid.uuid4()),
                "ce-source": SOURCE,
                "ce-type": NOTIFICATION_SENT,
                "ce-subject": header_value("order/" + reply["orderId"]),
                "content-type": "application/json",
            },
        )


def main():
    try:
        port = int(os.environ.get("HTTP_PORT", "8080"))
    except ValueError:
        sys.stderr.write(f"{SERVICE}: invalid configuration: HTTP_PORT must be a port number\n")
        sys.exit(2)
    host = os.environ.get("HTTP_HOST", "0.0.0.0")
    server = ThreadingHTTPServer((host, port), Handler)
    # Idle keep-alive connections must not hold up shutdown; requests in flight are waited for
    # below (their events are acked only once answered).
    server.daemon_threads = True

    def on_signal(signum, _frame):
        if stopping.is_set():
            return
        stopping.set()
        log("info", "shutting down", signal=signum)
        # In-flight requests finish; new events get 503 and are retried elsewhere.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log("info", "http listening", port=server.server_address[1], host=host)
    server.serve_forever(poll_interval=0.2)
    server.server_close()
    with lock:
        idle.wait_for(lambda: in_flight == 0, timeout=float(os.environ.get("SHUTDOWN_TIMEOUT_MS", "10000")) / 1000)
        left = in_flight
    log("info", "stopped", abandoned=left)


if __name__ == "__main__":
    main()
