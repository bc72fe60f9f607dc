"""Leases on running runs: one run id is run by one process at a time.

A process that starts or resumes a run takes the run's lease in the store (``owner`` =
``host:pid:token``, ``heartbeat`` = a timestamp) in one transaction, and a ``Heartbeat`` thread
refreshes it while the run is active. Another process asking for the same run is refused while
the lease is alive; a lease whose owner is gone — its pid dead on this host, or no heartbeat for
``STALE_AFTER_S`` (another host, a frozen or reused pid) — may be taken over (``resume``).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid

log = logging.getLogger(__name__)

HEARTBEAT_S = 5.0  # how often a running run refreshes its lease
STALE_AFTER_S = 60.0  # a lease not refreshed for this long is abandoned (12 missed heartbeats)


def new_owner() -> str:
    """``host:pid:token``: the token tells two leases of one (reused) pid apart."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def owner_alive(owner: str | None, heartbeat: float | None, now: float | None = None) -> bool:
    """Whether the lease ``owner`` took is still held: refreshed lately, and on this host its pid alive."""
    if not owner or heartbeat is None:
        return False
    if (now if now is not None else time.time()) - heartbeat > STALE_AFTER_S:
        return False
    host, _, rest = owner.partition(":")
    pid = rest.split(":", 1)[0]
    if host == socket.gethostname() and pid.isdigit():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # another user's live process
            return True
    return True


class Heartbeat:
    """Refreshes ``owner``'s lease on ``run_id`` every ``HEARTBEAT_S`` until ``stop()``."""

    def __init__(self, store, run_id: str, owner: str, interval: float = HEARTBEAT_S):
        self.store, self.run_id, self.owner, self.interval = store, run_id, owner, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lease-{run_id}", daemon=True)

    def start(self) -> "Heartbeat":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval + 5)

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                if not self.store.heartbeat(self.run_id, self.owner):
                    log.warning("run %s: its lease was taken over by another process", self.run_id)
                    return
            except Exception as exc:  # a busy or full store: keep running, try again next beat
                log.warning("run %s: the lease heartbeat failed: %s", self.run_id, exc)
