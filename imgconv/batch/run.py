"""Running jobs: inline, in worker processes, or on a Dask cluster; one bad file never
stops the rest, and Ctrl-C or SIGTERM stops cleanly.

Examples
--------
>>> summary = run_jobs([], print)
>>> summary.done, summary.interrupted
(0, False)
"""
import contextlib
import itertools
import os
import signal
import threading
import time
import warnings
from dataclasses import dataclass, field
from glob import escape as glob_escape
from pathlib import Path

from imgconv.batch.jobs import STDIO
from imgconv.batch.workers import worker_count
from imgconv.errors import ImgconvError


@dataclass
class Summary:
    """What a run did: counts, failures ``(path, reason)``, the inputs ``finished``, seconds."""

    done: int = 0
    skipped: int = 0
    failed: list = field(default_factory=list)
    finished: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    seconds: float = 0.0
    interrupted: bool = False

    def line(self):
        rate = self.done / self.seconds if self.seconds > 0 else 0.0
        return (f"done {self.done}, skipped {self.skipped}, failed {len(self.failed)} "
                f"in {self.seconds:.1f} s ({rate:.1f} images/s)")


GRACE_SECONDS = 1.0  # after an interrupt, how long running images may take to finish, twice over


def run_jobs(jobs, fn, *, workers=1, progress=None, scheduler=None, connect_timeout=5.0):
    """Run ``fn(job)`` for every job; failures are collected, not raised.

    Parameters
    ----------
    jobs : list of Job
        The work, e.g. ``plan_jobs(...).jobs``.
    fn : callable
        ``fn(job)`` reads, processes and writes one image and returns a list of
        notes. It must be picklable for ``workers > 1`` or ``scheduler``
        (e.g. :class:`imgconv.tasks.FilterTask`).
    workers : int
        Worker processes on this machine (at most two per usable core: more only share
        them, see :func:`~imgconv.batch.workers.worker_count`); each gets
        ``cores // workers`` engine threads.
    progress : callable, optional
        ``progress(finished, total)`` after each image (the command line draws a bar with it).
    scheduler : str, optional
        Address of a Dask distributed scheduler (``tcp://host:8786``): run one task
        per image on its workers instead (paths must be valid on the workers).
    connect_timeout : float
        Seconds to wait for the scheduler.

    Returns
    -------
    Summary
        Counts, failures ``(file, reason)``, seconds, and ``interrupted`` when
        Ctrl-C or SIGTERM stopped the run.

    Notes
    -----
    Ctrl-C or SIGTERM stops within about two seconds: queued jobs are dropped,
    running ones get :data:`GRACE_SECONDS` to finish, then their workers are
    stopped and their temporary files removed. Writes are atomic, so an output
    either exists complete or not at all, and ``--skip-existing`` resumes.

    Examples
    --------
    >>> summary = run_jobs([], print)
    >>> summary.done, summary.interrupted
    (0, False)
    """
    summary = Summary()
    start = time.perf_counter()
    previous = signal.signal(signal.SIGTERM, _raise_interrupt) if _main_thread() else None

    def record(job, outcome):
        error, notes = outcome
        summary.notes.extend((str(job.src), n) for n in notes)
        if error is None:
            summary.done += 1
            summary.finished.append(job.src)
        else:
            summary.failed.append((str(job.src), error))
        if progress is not None:
            progress(summary.done + len(summary.failed), len(jobs))

    count, _ = worker_count(int(workers), jobs=len(jobs))
    loaded = contextlib.nullcontext()
    if len(jobs) > 1 and count <= 1 and scheduler is None:
        from imgconv.engine import warm_up
        from imgconv.settings import use

        if warm_up():  # one load of the compiled loops serves every image of the run
            loaded = use(load_ms=0.0)
    try:
        with loaded:
            if scheduler is not None:
                from imgconv.batch.cluster import run_on_cluster

                run_on_cluster(jobs, fn, scheduler, record, connect_timeout)
            elif count <= 1:
                for job in jobs:
                    record(job, _call(fn, job))
            else:
                _run_pool(jobs, fn, count, record)
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    summary.seconds = time.perf_counter() - start
    return summary


#: in a worker process: a job is running (SIGTERM then interrupts it)
_BUSY = threading.Event()
#: in a worker process: SIGTERM came, start nothing more
_STOPPING = threading.Event()


def _call(fn, job):
    """Run one job: ``(None, notes)`` on success, ``(reason, [])`` on a user-facing failure.

    A Python warning shown while the job runs becomes one of its notes (in a worker process it
    would otherwise go to the terminal as Python prints it); the warning filters in force still
    decide what is shown, or raised.
    """
    if _STOPPING.is_set():
        raise KeyboardInterrupt
    _BUSY.set()
    try:
        with warnings.catch_warnings(record=True) as caught:
            notes = list(fn(job) or [])
        return None, notes + [f"{w.category.__name__}: {w.message} (please report this)" for w in caught]
    except ImgconvError as exc:
        return (str(exc) if exc.path else f"{job.src}: {exc}"), []
    except MemoryError:
        return f"{job.src}: out of memory", []
    except OSError as exc:  # the file it names (an output's folder, ...), else the input
        return f"{exc.filename or job.src}: {exc.strerror or exc}", []
    except Exception as exc:  # noqa: BLE001 - one odd image never ends the run
        return f"{job.src}: internal error: {type(exc).__name__}: {_first_line(exc)} (please report this)", []
    finally:
        _BUSY.clear()


def _init_worker(threads, load_ms, parent):
    """Worker process set-up: its share of the cores and the parent's cost of loading the
    compiled loops, signals left to the parent, and an end when the parent (process
    ``parent``) dies.

    Ctrl-C at a terminal reaches the whole process group; the parent decides what
    stops, so workers ignore SIGINT. The parent sends SIGTERM to a worker whose
    image outlives the grace period: it interrupts the job, and the atomic write
    removes its temporary file; an idle worker exits at once. A worker whose parent is
    gone (killed) stops the same way and exits within :data:`GRACE_SECONDS`, writing nothing more.
    """
    from imgconv.batch.workers import watch_parent

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _interrupt_job)
    watch_parent(parent, _orphaned)
    from imgconv.engine import warm_up
    from imgconv.settings import enter

    enter(threads=threads, load_ms=load_ms)  # its share of the cores and the parent's load cost
    if warm_up():  # the loops load once and serve every image
        enter(load_ms=0.0)


def _interrupt_job(signum, frame):
    _STOPPING.set()
    if _BUSY.is_set():
        raise KeyboardInterrupt
    # idle: exit, unwinding (an idle worker waits inside the job queue's lock, which a bare
    # os._exit would leave taken, blocking the other workers for good)
    raise SystemExit(0)


def _orphaned():
    """The parent is gone: interrupt the job (its atomic write cleans up), then exit regardless."""
    _STOPPING.set()
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(GRACE_SECONDS)  # a job in a C loop cannot be interrupted: it is not waited for
    os._exit(1)


WORKERS_CANNOT_START = ("the worker processes died before finishing any image: from a Python script, call "
                        "run_jobs under `if __name__ == \"__main__\":` and define the task in an importable "
                        "module (the workers import them); else out of memory or killed")


def _run_pool(jobs, fn, workers, record):
    """Run the jobs in ``workers`` processes with a short queue (bounded memory, quick stop)."""
    from concurrent.futures import FIRST_COMPLETED, wait
    from concurrent.futures.process import BrokenProcessPool

    queue = iter(jobs)
    pool, pending = _start_pool(workers), {}
    finished_any = False
    try:
        while True:
            for job in itertools.islice(queue, 2 * workers - len(pending)):
                pending[pool.submit(_call, fn, job)] = (job, pool)
            if not pending:
                break
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            # finished images first: a dead worker's futures arrive with them
            for fut in sorted(done, key=lambda f: isinstance(f.exception(), BrokenProcessPool)):
                job, owner = pending.pop(fut)
                if not isinstance(fut.exception(), BrokenProcessPool):
                    finished_any = True
                    record(job, fut.result())
                    continue
                if not finished_any:
                    # the workers died before finishing anything: they cannot run this task at all
                    for other in [job, *(j for j, _ in pending.values()), *queue]:
                        record(other, (f"{other.src}: {WORKERS_CANNOT_START}", []))
                    pending.clear()
                    break
                # a worker died (killed, out of memory): the pool cannot tell for which image, so
                # each image then in flight is reported, and a new pool goes on
                record(job, (f"{job.src}: a worker process died while this image was in flight "
                             "(out of memory or killed?)", []))
                if owner is pool:
                    pool.shutdown(wait=True)
                    pool = _start_pool(workers)
    except BaseException:
        _stop_pool(pool, {fut: job for fut, (job, _) in pending.items()}, record)
        raise
    pool.shutdown(wait=True)


def _start_pool(workers):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from imgconv.settings import current

    # forkserver/spawn, never fork: a forked child of a process that ran OpenMP threads
    # (numba's parallel loops) would abort inside its first parallel region
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method),
                               initializer=_init_worker,
                               initargs=(max(1, current().threads // workers), current().load_ms, os.getpid()))


def _stop_pool(pool, pending, record):
    """After an interrupt: drop queued jobs, let running ones finish briefly, then end the workers."""
    from concurrent.futures import wait

    running = [fut for fut in pending if not fut.cancel()]
    try:
        if wait(running, timeout=GRACE_SECONDS).not_done:
            _signal_workers(pool, signal.SIGTERM)  # interrupts the job; its write cleans up
            wait(running, timeout=GRACE_SECONDS)
    except KeyboardInterrupt:  # a second Ctrl-C: stop now
        pass
    unfinished = [pending[fut] for fut in running if not fut.done()]
    if unfinished:
        _signal_workers(pool, signal.SIGKILL)
    pool.shutdown(wait=True, cancel_futures=True)
    for job in unfinished:
        _remove_temporaries(job.dst)
    for fut in running:  # count what finished during the grace period
        if fut.done() and fut.exception() is None:
            record(pending[fut], fut.result())


def _signal_workers(pool, signum):
    # ProcessPoolExecutor has no public way to reach its workers before Python 3.14
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        with contextlib.suppress(OSError, ValueError):
            if process.pid is not None:
                os.kill(process.pid, signum)


def _remove_temporaries(dst):
    """Remove what a killed worker left of its atomic write of ``dst``.

    :func:`imgconv.imageio.write_image` writes ``.<name>.<random>.tmp`` beside ``dst``
    (the name cut short where it would not fit: :func:`~imgconv.imageio.atomic.temporary_prefix`).
    """
    from imgconv.imageio.atomic import temporary_prefix

    if dst == STDIO:
        return
    dst = Path(dst)
    for leftover in dst.parent.glob(f"{glob_escape(temporary_prefix(dst))}*.tmp"):
        with contextlib.suppress(OSError):
            leftover.unlink()


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def _main_thread():
    return threading.current_thread() is threading.main_thread()


def _first_line(exc):
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
