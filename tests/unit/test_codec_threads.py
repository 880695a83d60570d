"""The codec's decoders are built once per record type, and threads decoding the first message of a
type together all get a whole decoder (the Broadcaster and the PriceFeed both read topic:events; a
half-built one refused every field of OrderUpdated and the batch was dead-lettered)."""

from __future__ import annotations

import threading
from typing import Any

from app import messages
from app.messages import EventBatch, decode, encode
from tests.support.helpers import EVERY_EVENT


def _decode_together(raw: bytes, threads: int) -> list[Any]:
    barrier = threading.Barrier(threads)
    results: list[Any] = []

    def work() -> None:
        barrier.wait()
        try:
            results.append(decode(raw))
        except Exception as exc:  # collected, asserted by the caller
            results.append(exc)

    running = [threading.Thread(target=work) for _ in range(threads)]
    for t in running:
        t.start()
    for t in running:
        t.join()
    return results


def test_threads_decoding_a_first_batch_together_all_decode_it() -> None:
    raw = encode(EventBatch(msg_id="m", events=list(EVERY_EVENT)))
    for _ in range(30):
        messages._RECORDS.clear()  # as in a fresh process: no decoder built yet
        results = _decode_together(raw, 8)
        assert all(isinstance(r, EventBatch) and r.events == list(EVERY_EVENT) for r in results), results
