"""Running jobs on a Dask cluster (``--scheduler``): one task per image, same outcomes.

Examples
--------
>>> callable(run_on_cluster)
True
"""
import contextlib
import dataclasses
import itertools
from pathlib import Path

from imgconv.batch.connect import open_client
from imgconv.batch.jobs import STDIO
from imgconv.batch.run import GRACE_SECONDS, _call, _first_line
from imgconv.errors import ImgconvError


def run_on_cluster(jobs, fn, scheduler, record, connect_timeout):
    """One Dask task per image on the cluster at ``scheduler``; the same per-file outcomes."""
    try:
        from distributed import as_completed
    except ImportError:
        raise ImgconvError("--scheduler needs Dask: pip install 'imgconv[dask]'") from None
    if any(STDIO in (job.src, job.dst) for job in jobs):
        raise ImgconvError("stdin and stdout cannot be used with --scheduler")
    client = open_client(scheduler, connect_timeout)
    futures = {}
    try:
        window = max(8, 2 * sum(client.nthreads().values()))
        queue = iter(jobs)

        def submit(job):
            # absolute paths: the workers' current folders are not ours
            remote = dataclasses.replace(job, src=Path(job.src).absolute(), dst=Path(job.dst).absolute())
            fut = client.submit(_call_on_worker, fn, remote, pure=False)
            futures[fut] = job
            return fut

        running = as_completed([submit(job) for job in itertools.islice(queue, window)], loop=client.loop)
        for fut in running:
            job = futures.pop(fut)
            record(job, _dask_outcome(fut, job))
            nxt = next(queue, None)
            if nxt is not None:
                running.add(submit(nxt))
    finally:
        if futures:  # interrupted: queued tasks are cancelled (running ones finish their atomic writes)
            with contextlib.suppress(Exception):
                client.cancel(list(futures))
        with contextlib.suppress(Exception):
            client.close(timeout=GRACE_SECONDS * 2)


def worker_threads():
    """Engine threads for a task on a Dask worker: the machine's cores shared among the
    worker's task threads (all of them outside a worker)."""
    from imgconv.settings import usable_cores

    try:
        from distributed import get_worker

        return max(1, usable_cores() // max(1, get_worker().state.nthreads))
    except (ImportError, ValueError):
        return usable_cores()


def _call_on_worker(fn, job):
    """A Dask task: share the worker machine's cores among the worker's task threads."""
    from imgconv.engine import warm_up
    from imgconv.settings import use

    with use(threads=worker_threads(), load_ms=0.0):
        warm_up()
        return _call(fn, job)


def _dask_outcome(fut, job):
    """A task's ``(error, notes)``; a lost worker is this file's failure, other errors are bugs."""
    from distributed import KilledWorker

    if fut.status == "error":
        exc = fut.exception()
        if isinstance(exc, KilledWorker):
            return f"{job.src}: the Dask worker running it died ({_first_line(exc)})", []
        raise exc
    if fut.status == "cancelled":
        return f"{job.src}: the Dask task was cancelled (scheduler or workers gone?)", []
    return fut.result()
