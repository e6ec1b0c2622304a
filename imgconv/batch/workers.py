"""Worker processes: how many a run starts, and noticing that the process that started them is gone.

More workers than cores only share the cores, and each costs its own memory (about
175 MB with the engine loaded): ``-j 32`` on 2 cores ran 10,000 files twice as slowly as
``-j 2``.  :func:`worker_count` caps the count at :data:`WORKERS_PER_CORE` per usable core.

A worker whose parent was killed (SIGKILL, the OOM killer) would go on filtering and
writing the images already queued to it, and keep the forkserver and the resource tracker
alive.  :func:`watch_parent` calls back, in a daemon thread, as soon as the parent has
ended: at once through a Linux pidfd, else by polling every half second.

Examples
--------
>>> worker_count(None, jobs=1, cores=4), worker_count(3, jobs=10, cores=4)
((1, None), (3, None))
>>> worker_count(256, jobs=1000, cores=2)
(4, '-j 256: more than 2 workers per usable core only share the 2 cores; using 4')
"""

from __future__ import annotations

import os
import threading
import time

#: Most worker processes per usable core.
WORKERS_PER_CORE = 2
#: Seconds between two looks at the parent where no pidfd can be waited on.
POLL_SECONDS = 0.5


def worker_count(requested, *, jobs, cores=None):
    """``(workers, note)``: ``requested`` workers (None: one per usable core for several jobs),
    at most one per job and :data:`WORKERS_PER_CORE` per core; ``note`` says why fewer, or None."""
    from imgconv.settings import usable_cores

    cores = usable_cores() if cores is None else cores
    if requested is None:
        return (min(cores, jobs) if jobs > 1 else 1), None
    cap = WORKERS_PER_CORE * cores
    count = max(1, min(requested, jobs))
    if count > cap:
        return cap, (f"-j {requested}: more than {WORKERS_PER_CORE} workers per usable core only share "
                     f"the {cores} cores; using {cap}")
    return count, None


def watch_parent(pid, on_death):
    """Call ``on_death()`` from a daemon thread as soon as process ``pid`` has ended.

    Returns the thread.  A pid that is already gone calls back at once.
    """
    def wait():
        try:
            handle = os.pidfd_open(pid)
        except (AttributeError, OSError):  # not Linux (>= 5.3), or gone already
            handle = None
        if handle is not None:
            import select

            try:
                poller = select.poll()
                poller.register(handle, select.POLLIN)
                while not poller.poll():
                    pass
            finally:
                os.close(handle)
        else:
            while _alive(pid):
                time.sleep(POLL_SECONDS)
        on_death()

    thread = threading.Thread(target=wait, name="imgconv-parent-watch", daemon=True)
    thread.start()
    return thread


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists (under another user)
        return True
    return True
