"""How many threads the engine may use (FFT workers, compiled loops).

Batch runs with several worker processes set this to 1 per process so the
cores are not oversubscribed.

Examples
--------
>>> set_threads(1); get_threads()
1
"""
import os

_threads = [max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)]


def get_threads():
    """The number of threads each engine call may use."""
    return _threads[0]


def set_threads(n):
    """Limit the engine (SciPy FFT workers and compiled loops) to ``n`` threads."""
    _threads[0] = max(1, int(n))
