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
import os
import signal
import sys
import time
from dataclasses import dataclass, field
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


def discover(inputs, *, recursive=False, glob=None):
    """Expand inputs into ``(path, root)`` pairs: files as given, folders' image files sorted.

    ``root`` is the folder an input was found under (to mirror its tree), or None.
    Returns ``(found, ignored)``; ``ignored`` lists non-image files inside folders.
    """
    exts = _image_extensions()
    found, ignored = [], []
    for item in inputs:
        if item == STDIO:
            found.append((STDIO, None))
            continue
        p = Path(item)
        if p.is_dir():
            pattern = glob or "*"
            walker = p.rglob(pattern) if recursive else p.glob(pattern)
            for f in sorted(walker):
                if f.is_file() and not f.name.startswith("."):
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
    if many or root is not None or out.is_dir():
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
    found, ignored = discover(inputs, recursive=recursive, glob=glob)
    if not found:
        raise ImgconvError("no image files found in " + ", ".join(map(str, inputs)))
    many = len(found) > 1 or any(root is not None for _, root in found)
    if many and output not in (None, STDIO) and Path(output).exists() and not Path(output).is_dir():
        raise ImgconvError(f"{output}: several inputs need an output folder, not a file")
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


def _init_worker(threads):
    """Worker process set-up: its own share of the cores; Ctrl-C is the parent's to handle."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    from imgconv.engine import set_threads

    set_threads(threads)


def _call(fn, job):
    """Run one job: ``(None, notes)`` on success, ``(reason, [])`` on a user-facing failure."""
    try:
        return None, list(fn(job) or [])
    except ImgconvError as exc:
        return (str(exc) if exc.path else f"{job.src}: {exc}"), []
    except MemoryError:
        return f"{job.src}: out of memory", []
    except OSError as exc:
        return f"{job.src}: {exc.strerror or exc}", []


def run_jobs(jobs, fn, *, workers=1, progress=False, label="filtering"):
    """Run ``fn(job)`` for every job; failures are collected, not raised.

    ``workers > 1`` uses that many processes (``fn`` must be picklable), each with
    ``cores // workers`` engine threads. Ctrl-C or SIGTERM stops promptly: queued
    jobs are cancelled, running ones finish or are killed, and writes are atomic,
    so no partial output remains. Workers ignore SIGINT and finish the image in
    hand. Returns a :class:`Summary` (``interrupted`` set).
    """
    import click

    summary = Summary()
    start = time.perf_counter()
    workers = max(1, min(int(workers), len(jobs) or 1))
    bar = click.progressbar(length=len(jobs), label=label, file=sys.stderr, show_pos=True,
                            show_eta=True) if progress else None
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

    try:
        if bar is not None:
            bar.__enter__()
        if workers == 1:
            for job in jobs:
                record(job, _call(fn, job))
        else:
            _run_pool(jobs, fn, workers, record)
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    summary.seconds = time.perf_counter() - start
    return summary


def _run_pool(jobs, fn, workers, record):
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    from imgconv.engine import get_threads

    threads = max(1, get_threads() // workers)
    # forkserver/spawn, never fork: a forked child of a process that ran OpenMP threads
    # (numba's parallel loops) would abort inside its first parallel region
    import multiprocessing

    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method),
                               initializer=_init_worker, initargs=(threads,))
    pending = {}
    queue = iter(jobs)
    try:
        for job in queue:  # keep a short queue so memory stays bounded and Ctrl-C is quick
            pending[pool.submit(_call, fn, job)] = job
            if len(pending) >= 2 * workers:
                break
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                job = pending.pop(fut)
                record(job, fut.result())
                nxt = next(queue, None)
                if nxt is not None:
                    pending[pool.submit(_call, fn, nxt)] = nxt
    except BaseException:
        # queued jobs are dropped; the few running ones finish their (atomic) writes
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def _main_thread():
    import threading

    return threading.current_thread() is threading.main_thread()


def default_workers():
    """The usable cores."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
