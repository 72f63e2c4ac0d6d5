"""`make dev`'s event pipeline, as the deployed stage runs it on Lambda: the table's stream
read through the consumer's own handler, and the delivery queue (moto's SQS, which `make dev`
starts) through the delivery's own handler, printing one line per event and per delivery.

    python -m devtools.event_workers   (started by `make dev`, with its environment)
"""

from __future__ import annotations

import sys
import threading
from typing import Any

from chalicelib import runtime
from chalicelib.events import consumer, delivery
from devtools.queues import QueueReader
from devtools.streams import StreamReader


def _printing_consumer(services: Any) -> Any:
    def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return consumer.consume(services, event["Records"], on_event=_print_event)

    return handle


def _print_event(event: Any) -> None:
    print(f"event {event.type} user={event.user_id} seq={event.seq} id={event.id}", flush=True)


def _printing_delivery(services: Any) -> Any:
    def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
        answer = delivery.deliver_batch(services, event["Records"])
        failed = {f["itemIdentifier"] for f in answer["batchItemFailures"]}
        for record in event["Records"]:
            target, event_id = delivery.describe(record["body"])
            outcome = "will retry" if record["messageId"] in failed else "done"
            print(f"delivery {event_id} -> {target}: {outcome}", flush=True)
        return answer

    return handle


def run(stop: threading.Event, interval: float = 0.5) -> None:
    services = runtime.get()
    stream = StreamReader(services.settings.table_name, handler=_printing_consumer(services))
    queue = None
    if services.settings.webhook_queue_url:
        queue = QueueReader(
            services.queue, services.settings.webhook_queue_url, _printing_delivery(services)
        )
    while not stop.is_set():
        busy = stream.poll()
        if queue is not None:
            busy += queue.poll()
        if not busy:
            stop.wait(interval)


def main() -> int:
    stop = threading.Event()
    try:
        run(stop)
    except KeyboardInterrupt:
        stop.set()
    return 0


if __name__ == "__main__":
    sys.exit(main())
