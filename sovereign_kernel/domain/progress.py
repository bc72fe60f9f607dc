"""Heartbeats of long steps, for the layers that cannot import the runtime's progress stream.

A step that can run for seconds with nothing to show — embedding texts a cold vector cache does
not hold, waiting out an arXiv retry, parsing a folder of PDFs — takes an optional
:class:`ProgressSink`. The runtime hands it ``runtime.progress.progress``, which writes
``{"stage": ..., **data}`` to the run's LangGraph custom stream (the CLI's live line, Studio,
notebooks) and resolves the run from the calling context, so one sink serves every run of a shared
cache. The events are heartbeats, not one per item: :class:`StepProgress` emits at most one a
second, and :func:`wait_beating` one every two seconds of a wait.

Event fields: ``done`` and ``total`` for a step that counts (``[embed 24/61]`` on the CLI);
``waiting`` (seconds left) and ``reason`` for a wait (``[arxiv waiting 3 s: HTTP 503, retry 1/3]``).
``of`` is not used here: on the stream it means a stage's parallel fan-out (``[extract 3/8]``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

EVERY_S = 1.0  # the shortest gap between two heartbeats of one step
WAIT_BEAT_S = 2.0  # a wait says how long is left this often


class ProgressSink(Protocol):
    """Where a long step reports: ``sink(stage, **data)`` (``runtime.progress.progress`` fits)."""

    def __call__(self, stage: str, /, **data: Any) -> None: ...


class StepProgress:
    """Heartbeats of one counted step (``done`` of ``total``).

    ``update(done)`` emits when ``every`` seconds have passed since the step's last event — the
    first one ``first_after`` seconds after the start (0: the first update shows at once) — while
    work is left, so a step quicker than that (or done in one piece) stays silent. ``finish()``
    closes with ``done == total`` when the step emitted anything, so the last count shown is never stale."""

    def __init__(self, sink: ProgressSink | None, stage: str, total: int, *, every: float = EVERY_S,
                 first_after: float = EVERY_S, clock: Callable[[], float] = time.monotonic, **fixed: Any):
        self.sink, self.stage, self.total, self.every = sink, stage, int(total), every
        self.fixed, self.clock = fixed, clock
        self._last = clock() - every + first_after  # the step's start, as if an event had been emitted then
        self._done = None  # the count of the last event emitted (None: none yet)

    def update(self, done: int, **data: Any) -> None:
        if self.sink is None:
            return
        now = self.clock()
        if now - self._last >= self.every and done < self.total:  # a step that just ended has nothing to say yet
            self._emit(done, now, data)

    def finish(self, **data: Any) -> None:
        if self.sink is not None and self._done is not None and self._done != self.total:
            self._emit(self.total, self.clock(), data)

    def _emit(self, done: int, now: float, data: dict) -> None:
        self._last, self._done = now, done
        self.sink(self.stage, done=done, total=self.total, **self.fixed, **data)


def wait_beating(sink: ProgressSink | None, stage: str, seconds: float, reason: str,
                 sleep: Callable[[float], Any] = time.sleep, clock: Callable[[], float] = time.monotonic) -> bool:
    """Wait ``seconds`` (blocking), saying so on ``sink`` now and every ``WAIT_BEAT_S`` after:
    ``{"stage": stage, "waiting": seconds left, "reason": reason}``. ``sleep(s)`` may return True to
    stop the wait early (``threading.Event.wait``: cancelled); the result is whether it did."""
    end = clock() + max(0.0, seconds)
    while (left := end - clock()) > 0:
        if sink is not None:
            sink(stage, waiting=round(left, 1), reason=reason)
        if sleep(min(left, WAIT_BEAT_S)):
            return True
    return False
