"""Whether a run of many convolutions pays for loading the compiled loops once.

The planner charges :attr:`imgconv.settings.Settings.load_ms` to every convolution it
plans, as if each were the process's only one. A chain of kernels, a multi-kernel preset
or an iterative method pays the load once: when their estimated costs with the loops
loaded, plus one load, beat their costs without the loops, they all run as if the loops
were loaded (``load_ms=0``). Like the planner, the answer depends only on the arguments
and the settings.

Examples
--------
>>> import numpy as np
>>> from imgconv.settings import use
>>> with use(load_ms=300.0, compiled=True):
...     once = loops_pay((2160, 3840, 3), [np.ones((3, 3))], repeat=1)
...     often = loops_pay((2160, 3840, 3), [np.ones((3, 3))], repeat=60)
>>> once <= often
True
"""
from imgconv.settings import current, use


def loops_pay(shape, kernels, *, method="auto", correlate=False, repeat=1):
    """True when the compiled loops may be used, are not loaded for free already, and ``repeat``
    runs of convolving ``shape`` with each of ``kernels`` cost less with one load of them
    than without them."""
    from imgconv.engine import explain

    settings = current()
    if not settings.compiled or settings.load_ms == 0 or not isinstance(method, str):
        return False

    def cost(kernel):
        plan = explain(tuple(shape), kernel, method=method, correlate=correlate)
        return plan.costs[plan.method]

    with use(load_ms=0.0):
        loaded = sum(map(cost, kernels))
    with use(compiled=False):
        without = sum(map(cost, kernels))
    return bool(repeat * loaded + settings.load_ms < repeat * without)


def charged_once(shape, kernels, **options):
    """The settings to plan and run those convolutions under: ``load_ms=0`` when
    :func:`loops_pay`, else the current ones (a context manager)."""
    import contextlib

    return use(load_ms=0.0) if loops_pay(shape, kernels, **options) else contextlib.nullcontext(current())
