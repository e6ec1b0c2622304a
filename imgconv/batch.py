"""Many inputs: discovery, output naming, worker processes, progress and a summary.

A batch is a list of :class:`Job` (one input, one output). :func:`plan_jobs`
finds the inputs and names the outputs, refusing collisions and existing outputs
up front so that nothing is half done; :func:`run_jobs` runs a per-file function
over them, in worker processes for ``jobs > 1``, and returns a :class:`Summary`.
One bad file never stops the rest.

Examples
--------
>>> plan = plan_jobs(["photo.png"], suffix="sobel", must_exist=False)
>>> plan.jobs[0].dst.name
'photo.sobel.png'
"""
import contextlib
import itertools
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from glob import escape as glob_escape
from pathlib import Path

from imgconv.errors import ImgconvError

STDIO = "-"


@dataclass(frozen=True)
class Job:
    """One input file and where its result goes (``"-"`` for stdin / stdout)."""

    src: object
    dst: object


@dataclass
class Plan:
    """The jobs of a run, the outputs skipped as existing, and inputs ignored as non-images."""

    jobs: list
    skipped: list = field(default_factory=list)
    ignored: list = field(default_factory=list)
    many: bool = False


@dataclass
class Summary:
    """What a run did: counts, failures ``(path, reason)``, seconds."""

    done: int = 0
    skipped: int = 0
    failed: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    seconds: float = 0.0
    interrupted: bool = False

    def line(self):
        rate = self.done / self.seconds if self.seconds > 0 else 0.0
        return (f"done {self.done}, skipped {self.skipped}, failed {len(self.failed)} "
                f"in {self.seconds:.1f} s ({rate:.1f} images/s)")


def _image_extensions():
    from imgconv.imageio import supported_extensions

    return {e.lower() for e in supported_extensions()}


def discover(inputs, *, recursive=False, glob=None, skip_below=None, skip_suffix=None):
    """Expand inputs into ``(path, root)`` pairs: files as given, folders' image files sorted.

    ``root`` is the folder an input was found under (to mirror its tree), or None.
    Inside folders, files below ``skip_below`` (the output folder) and files named
    ``<stem>.<skip_suffix>.<ext>`` (earlier outputs written beside their inputs) are
    left out, so running the same command again does not filter its own results.
    Returns ``(found, ignored)``; ``ignored`` lists non-image files inside folders.
    """
    exts = _image_extensions()
    skip_below = Path(skip_below).resolve() if skip_below else None

    def own_output(f, inside):
        if inside is not None and f.resolve().is_relative_to(inside):
            return True
        return skip_suffix is not None and f.stem.endswith("." + skip_suffix)

    found, ignored = [], []
    for item in inputs:
        if item == STDIO:
            found.append((STDIO, None))
            continue
        p = Path(item)
        if p.is_dir():
            top = p.resolve()  # an output folder strictly inside this input folder is not input
            inside = skip_below if skip_below not in (None, top) and skip_below.is_relative_to(top) else None
            pattern = glob or "*"
            walker = p.rglob(pattern) if recursive else p.glob(pattern)
            for f in sorted(walker):
                if f.is_file() and not f.name.startswith(".") and not own_output(f, inside):
                    if f.suffix.lower() in exts:
                        found.append((f, p))
                    elif glob is None:
                        ignored.append(f)
        else:
            found.append((p, None))  # a missing or bad file fails later, with its own message
    return found, ignored


def output_path(src, root, *, output, suffix, fmt, many):
    """Where ``src`` goes: see SPEC.md ``-o/--output`` (mirrored tree under a folder output)."""
    if src == STDIO:
        return Path(output) if output and output != STDIO else STDIO
    ext = ("." + fmt.lstrip(".").lower()) if fmt else src.suffix
    if output is None:
        return src.with_name(f"{src.stem}.{suffix}{ext}")
    if output == STDIO:
        return STDIO
    out = Path(output)
    if many or root is not None or out.is_dir() or str(output).endswith(("/", os.sep)):
        rel = src.relative_to(root) if root is not None else Path(src.name)
        return (out / rel).with_suffix(ext)
    return out


def plan_jobs(inputs, *, suffix, output=None, fmt=None, recursive=False, glob=None,
              overwrite=False, skip_existing=False, must_exist=True):
    """Find the inputs, name the outputs, and check the plan before anything is written.

    Raises ImgconvError for: no inputs, two inputs mapped to one output, an
    output that is an input (without ``overwrite``), and existing outputs (unless
    ``overwrite`` or ``skip_existing``).
    """
    out_dir = output if output not in (None, STDIO) and Path(output).is_dir() else None
    found, ignored = discover(inputs, recursive=recursive, glob=glob, skip_below=out_dir,
                              skip_suffix=suffix if output is None else None)
    if not found:
        raise ImgconvError("no image files found", path=", ".join(map(str, inputs)))
    many = len(found) > 1 or any(root is not None for _, root in found)
    if many and output not in (None, STDIO) and (
            (Path(output).exists() and not Path(output).is_dir())
            or (not Path(output).exists() and Path(output).suffix.lower() in _image_extensions())):
        raise ImgconvError("several inputs need an output folder, not a file", path=output)
    if many and output == STDIO:
        raise ImgconvError("several inputs cannot all be written to stdout")
    jobs, skipped, seen = [], [], {}
    inputs_resolved = {Path(s).resolve() for s, _ in found if s != STDIO}
    for src, root in found:
        dst = output_path(src, root, output=output, suffix=suffix, fmt=fmt, many=many)
        if dst != STDIO:
            key = dst.resolve()
            if key in seen:
                raise ImgconvError(f"{seen[key]} and {src} would both be written to {dst}; "
                                   "use --format or separate runs")
            seen[key] = src
            if key in inputs_resolved and not overwrite:
                raise ImgconvError(f"{dst}: output would overwrite an input (use --overwrite to allow it)")
            if dst.exists() and must_exist:
                if skip_existing:
                    skipped.append(dst)
                    continue
                if not overwrite:
                    raise ImgconvError(f"{dst}: output exists (use --overwrite or --skip-existing)")
        jobs.append(Job(src, dst))
    return Plan(jobs, skipped, ignored, many)


GRACE_SECONDS = 1.0  # after an interrupt, how long running images may take to finish, twice over


def run_jobs(jobs, fn, *, workers=1, progress=False, label="filtering", scheduler=None, connect_timeout=5.0):
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
        Worker processes on this machine; each gets ``cores // workers`` engine threads.
    progress : bool
        Draw a progress bar with rate and time left on stderr.
    label : str
        The progress bar's label.
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
    bar = _progress_bar(len(jobs), label, start) if progress else None
    previous = signal.signal(signal.SIGTERM, _raise_interrupt) if _main_thread() else None

    def record(job, outcome):
        error, notes = outcome
        summary.notes.extend((str(job.src), n) for n in notes)
        if error is None:
            summary.done += 1
        else:
            summary.failed.append((str(job.src), error))
        if bar is not None:
            bar.update(1)

    if len(jobs) > 1 and workers <= 1 and scheduler is None:
        from imgconv.engine import warm_up

        warm_up()  # one load of the compiled loops serves every image of the run
    try:
        with bar if bar is not None else contextlib.nullcontext():
            if scheduler is not None:
                _run_dask(jobs, fn, scheduler, record, connect_timeout)
            elif min(int(workers), len(jobs)) <= 1:
                for job in jobs:
                    record(job, _call(fn, job))
            else:
                _run_pool(jobs, fn, min(int(workers), len(jobs)), record)
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    summary.seconds = time.perf_counter() - start
    return summary


def _progress_bar(total, label, start):
    """Click's bar on stderr: position, percent, time left, and images per second."""
    import click

    def rate(_item):
        elapsed = time.perf_counter() - start
        return f"{bar.pos / elapsed:.1f} images/s" if bar.pos and elapsed > 0 else None

    bar = click.progressbar(length=total, label=label, file=sys.stderr, show_pos=True, show_percent=True,
                            show_eta=True, item_show_func=rate)
    return bar


_busy = [False]  # in a worker process: is a job running (SIGTERM then interrupts it)?
_stopping = [False]  # in a worker process: SIGTERM came, start nothing more


def _call(fn, job):
    """Run one job: ``(None, notes)`` on success, ``(reason, [])`` on a user-facing failure."""
    if _stopping[0]:
        raise KeyboardInterrupt
    _busy[0] = True
    try:
        return None, list(fn(job) or [])
    except ImgconvError as exc:
        return (str(exc) if exc.path else f"{job.src}: {exc}"), []
    except MemoryError:
        return f"{job.src}: out of memory", []
    except OSError as exc:
        return f"{job.src}: {exc.strerror or exc}", []
    finally:
        _busy[0] = False


def _init_worker(threads):
    """Worker process set-up: its share of the cores, and signals left to the parent.

    Ctrl-C at a terminal reaches the whole process group; the parent decides what
    stops, so workers ignore SIGINT. The parent sends SIGTERM to a worker whose
    image outlives the grace period: it interrupts the job, and the atomic write
    removes its temporary file.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _interrupt_job)
    from imgconv.engine import warm_up
    from imgconv.settings import enter

    enter(threads=threads, load_ms=0.0)  # its share of the cores; the loops load once, below
    warm_up()


def _interrupt_job(signum, frame):
    _stopping[0] = True
    if _busy[0]:
        raise KeyboardInterrupt


def _run_pool(jobs, fn, workers, record):
    """Run the jobs in ``workers`` processes with a short queue (bounded memory, quick stop)."""
    from concurrent.futures import FIRST_COMPLETED, wait
    from concurrent.futures.process import BrokenProcessPool

    queue = iter(jobs)
    pool, pending = _start_pool(workers), {}
    try:
        while True:
            for job in itertools.islice(queue, 2 * workers - len(pending)):
                pending[pool.submit(_call, fn, job)] = (job, pool)
            if not pending:
                break
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                job, owner = pending.pop(fut)
                if isinstance(fut.exception(), BrokenProcessPool):
                    # a worker died (killed, out of memory): the pool cannot tell for which
                    # image, so each image then in flight is reported, and a new pool goes on
                    record(job, (f"{job.src}: a worker process died while this image was in flight "
                                 "(out of memory?)", []))
                    if owner is pool:
                        pool.shutdown(wait=True)
                        pool = _start_pool(workers)
                    continue
                record(job, fut.result())
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
                               initializer=_init_worker, initargs=(max(1, current().threads // workers),))


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

    :func:`imgconv.imageio.write_image` writes ``.<name>.<random>.tmp`` beside ``dst``.
    """
    if dst == STDIO:
        return
    dst = Path(dst)
    for leftover in dst.parent.glob(f".{glob_escape(dst.name)}.*.tmp"):
        with contextlib.suppress(OSError):
            leftover.unlink()


def _run_dask(jobs, fn, scheduler, record, connect_timeout):
    """One Dask task per image on the cluster at ``scheduler``; the same per-file outcomes."""
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise ImgconvError("--scheduler needs Dask: pip install 'imgconv[dask]'") from None
    if any(STDIO in (job.src, job.dst) for job in jobs):
        raise ImgconvError("stdin and stdout cannot be used with --scheduler")
    try:
        client = Client(scheduler, timeout=connect_timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        raise ImgconvError(f"cannot reach the Dask scheduler at {scheduler}: {_first_line(exc)}") from None
    futures = {}
    try:
        window = max(8, 2 * sum(client.nthreads().values()))
        queue = iter(jobs)

        def submit(job):
            # absolute paths: the workers' current folders are not ours
            remote = Job(Path(job.src).absolute(), Path(job.dst).absolute())
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


def _call_on_worker(fn, job):
    """A Dask task: share the worker machine's cores among the worker's task threads."""
    from distributed import get_worker

    from imgconv.engine import warm_up
    from imgconv.settings import use, usable_cores

    with use(threads=max(1, usable_cores() // max(1, get_worker().state.nthreads)), load_ms=0.0):
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


def _first_line(exc):
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def _main_thread():
    import threading

    return threading.current_thread() is threading.main_thread()


def default_workers():
    """The usable cores."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
