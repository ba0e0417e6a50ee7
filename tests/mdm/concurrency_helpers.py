"""Two sessions at once on real PostgreSQL: actions raced in threads, or a lock held by another session."""
from __future__ import annotations

import threading
from contextlib import contextmanager

from django.db import connection, connections


def race(*actions):
    """Run the actions in threads released together; return each one's result or exception."""
    assert connection.vendor == "postgresql"
    start = threading.Barrier(len(actions))
    outcomes = [None] * len(actions)

    def run(index, action):
        try:
            start.wait()
            outcomes[index] = action()
        except Exception as exc:  # noqa: BLE001 - the outcome is what the test inspects
            outcomes[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(actions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return outcomes


@contextmanager
def held_elsewhere(hold, *, release_after: float | None = None):
    """Enter ``hold()`` (a context manager) in another thread's session and keep it entered
    while the body runs, or for ``release_after`` seconds when the body waits for it."""
    assert connection.vendor == "postgresql"
    holding, release = threading.Event(), threading.Event()

    def run():
        try:
            with hold():
                holding.set()
                release.wait(30)
        finally:
            connections.close_all()

    other = threading.Thread(target=run)
    other.start()
    try:
        assert holding.wait(10), "the other session never took hold"
        if release_after is not None:
            threading.Timer(release_after, release.set).start()
        yield
    finally:
        release.set()
        other.join(30)
