"""Frames decoded in a background thread, and where a predict run spends its time.

OpenCV releases the GIL while it decodes, so a reader thread decodes the next frames while the
main thread detects faces and runs the model. The queue between them is bounded: memory stays
flat however long the video is (a handful of frames are held, never the whole video).
"""

from __future__ import annotations

import queue
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

#: Frames decoded ahead of the one being processed.
DEFAULT_BUFFERED = 8
_DONE = object()


class StageTimes:
    """Seconds spent per stage (``decode``, ``detect``, ``crop``, ``model``, ``write``...)."""

    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)
        self._lock = threading.Lock()

    @contextmanager
    def measure(self, stage: str):
        """Add the time spent inside the ``with`` block to ``stage``."""
        started = time.perf_counter()
        try:
            yield
        finally:
            with self._lock:
                self.seconds[stage] += time.perf_counter() - started

    def per_frame_ms(self, frames: int) -> dict[str, float]:
        """Milliseconds per frame of every stage."""
        return {stage: 1000 * s / max(frames, 1) for stage, s in self.seconds.items()}

    def format(self, frames: int) -> str:
        """``stage x.x ms`` per frame, in the order the stages were first timed."""
        parts = [f"{stage} {ms:.1f}" for stage, ms in self.per_frame_ms(frames).items()]
        return "ms per frame: " + ", ".join(parts)


def read_ahead(
    frames: Iterator, buffered: int = DEFAULT_BUFFERED, times: StageTimes | None = None
) -> Iterator:
    """The items of ``frames``, produced by a background thread at most ``buffered`` ahead.

    An exception raised by ``frames`` is raised here, at the same point of the sequence.
    Closing this generator (or leaving a loop over it) stops the thread.
    """
    items: queue.Queue = queue.Queue(maxsize=max(buffered, 1))
    stop = threading.Event()

    def produce() -> None:
        try:
            while not stop.is_set():
                started = time.perf_counter()
                try:
                    item = next(frames)
                except StopIteration:
                    break
                if times is not None:
                    with times._lock:
                        times.seconds["decode"] += time.perf_counter() - started
                _put(items, (item, None), stop)
        except BaseException as err:  # handed to the consumer
            _put(items, (_DONE, err), stop)
            return
        _put(items, (_DONE, None), stop)

    thread = threading.Thread(target=produce, name="au-decode", daemon=True)
    thread.start()
    try:
        while True:
            item, error = items.get()
            if error is not None:
                raise error
            if item is _DONE:
                return
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                items.get_nowait()
            except queue.Empty:
                thread.join(0.05)
        close = getattr(frames, "close", None)
        if close is not None:
            close()  # releases the capture of a generator stopped early


def _put(items: queue.Queue, entry: tuple, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            items.put(entry, timeout=0.1)
            return
        except queue.Full:
            continue
