"""Tasks for the batch tests that worker processes must be able to import by name (the tests
folder is on ``sys.path``, see conftest.py; test modules themselves are not importable)."""
import os
import time
from pathlib import Path


class Stubborn:
    """A task that leaves a temporary beside its output and ignores interrupts (a C loop would)."""

    def __call__(self, job):
        Path(job.dst).parent.joinpath(f".{Path(job.dst).name}.abc123.tmp").write_bytes(b"partial")
        end = time.monotonic() + 60
        while time.monotonic() < end:
            try:
                time.sleep(0.05)
            except KeyboardInterrupt:
                continue
        return []


class DiesOn:
    """A task whose worker process dies on one file (as the kernel's OOM killer would do)."""

    def __init__(self, name):
        self.name = name

    def __call__(self, job):
        if Path(job.src).name == self.name:
            os._exit(9)
        Path(job.dst).write_text("ok")
        return []


def _refuse_to_load():
    raise ImportError("this task cannot be loaded in a worker (as a script's class without a __main__ guard)")


class Unloadable:
    """A task the worker processes cannot unpickle: they die before running any image."""

    def __reduce__(self):
        return _refuse_to_load, ()

    def __call__(self, job):
        return []


class RaisesOn:
    """A task with a bug that shows on one file only (an exception no one anticipated)."""

    def __init__(self, name):
        self.name = name

    def __call__(self, job):
        if Path(job.src).name == self.name:
            raise RuntimeError(f"unexpected {self.name}")
        Path(job.dst).write_text("ok")
        return []
