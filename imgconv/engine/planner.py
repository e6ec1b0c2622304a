"""Choosing a method: a cost model with measured constants.

Each method's time is modelled as ``fixed + per_pixel * pixels + per_tap * taps``
(nanoseconds, pixels counted per channel). The constants were fitted by
``benchmarks/bench_engine.py --calibrate`` on this project's reference machine (2-core AMD EPYC,
3840x2160x3 float32 images, kernels 3..63, median of 3 runs); re-run it to refit
for another machine. The model only has to rank the methods, not predict time
exactly: the crossovers it implies are listed in the README.

Examples
--------
>>> import numpy as np
>>> plan_method((2160, 3840, 3), np.ones((3, 3))).rank
1
>>> plan_method((2160, 3840, 3), np.random.default_rng(0).random((31, 31))).method
'fft'
"""
from dataclasses import dataclass, field

import numpy as np

from imgconv.choices import METHODS
from imgconv.errors import EngineError
from imgconv.settings import LOAD_MS, current

# ns per (pixel x channel) on ONE thread, from `benchmarks/bench_engine.py --calibrate`
# (CPU time, least-squares fit over kernels 3..65; 2-core AMD EPYC; 3840x2160x3 float32
# for the compiled loops, 1920x1080x3 for NumPy's, 960x540x3 for scipy.ndimage, which the
# volumes use without numba). The compiled loops and the FFT scale with threads.
COSTS_COMPILED = {
    "direct_px": 0.76, "direct_tap": 0.069,          # taps = non-zero kernel entries
    "separable_px": 0.57, "separable_tap": 0.090,    # taps = rank * (h + w)
}
COSTS_PLAIN = {  # imgconv.engine.plain: NumPy's taps and BLAS's banded products
    "direct_px": 1.6, "direct_tap": 0.30,            # taps = non-zero kernel entries
    "separable_pass": 3.3, "separable_tap": 0.037,   # per rank component: pass + taps * (h + C * w)
}
COSTS_SCIPY = {  # scipy.ndimage.correlate / correlate1d, one channel at a time (volumes)
    "direct_px": 4.3, "direct_tap": 1.03,            # taps = all kernel entries
    "separable_pass": 9.6, "separable_tap": 0.52,    # per rank component: pass + taps * (h + w)
}
# FFT: ns per (n log2 n) unit of transform work per plane (forward + inverse), plus the
# padding and copying per pixel; measured 0.55-0.9 per unit for 256-768 px tiles.
COST_FFT_UNIT = 0.75
COST_FFT_PX = 2.0


@dataclass(frozen=True)
class MethodPlan:
    """The method chosen for one kernel on one image shape, and why.

    ``costs`` holds the estimated milliseconds of every applicable method.
    """

    method: str
    rank: int
    kernel_shape: tuple
    costs: dict = field(default_factory=dict)
    compiled: bool = False
    tile: tuple = None
    loops_allowed: bool = False
    load_ms: float = 0.0

    def __str__(self):
        est = ", ".join(f"{m} {t:.1f} ms" for m, t in sorted(self.costs.items(), key=lambda kv: kv[1]))
        h, w = self.kernel_shape
        if self.method == "fft":
            loops = "scipy.fft"
        elif self.compiled:
            loops = "compiled loops"
        elif self.loops_allowed:
            first = "compiling (numba's cache is empty)" if self.load_ms > LOAD_MS else "loading"
            loops = f"NumPy: cheaper here than {first} the compiled loops, {self.load_ms:.0f} ms"
        else:
            loops = "NumPy (compiled loops off: numba missing or IMGCONV_NO_NUMBA set)"
        return f"{h}x{w} kernel, rank {self.rank}: {self.method} (estimates: {est}; {loops})"


def plan_method(image_shape, kernel, method="auto", factors=None, settings=None):
    """Estimate every method's cost for ``kernel`` on an image of ``image_shape`` and choose.

    ``method`` other than ``"auto"`` is honoured as given; the estimates are still reported.
    The result depends only on the arguments and ``settings`` (default: the current
    :class:`imgconv.settings.Settings`): its threads, whether the compiled loops may be used,
    and the one-off cost charged for loading them.
    """
    from imgconv.engine.fft import tile_plan
    from imgconv.engine.plain import banded_fits
    from imgconv.engine.separable import low_rank_factors

    if method not in METHODS:
        raise EngineError(f"unknown method {method!r} (choose from {', '.join(METHODS)})")
    settings = current() if settings is None else settings
    H, W = image_shape[:2]
    C = image_shape[2] if len(image_shape) > 2 else 1
    h, w = kernel.shape
    px = float(H * W * C)
    taps = int(np.count_nonzero(kernel))
    if factors is None:
        factors = low_rank_factors(kernel)
    rank = factors[0].shape[0]
    ty, tx, work = tile_plan((H, W), (h, w))
    threads = settings.threads
    ms = 1e-6
    plain = COSTS_PLAIN
    costs = {
        "direct": px * (plain["direct_px"] + plain["direct_tap"] * max(taps, 1)) * ms,
        "separable": px * rank * (plain["separable_pass"] + plain["separable_tap"] * (h + C * w)) * ms
        if banded_fits(h, W, C) else float("inf"),  # (a kernel taller than that runs by its taps)
        "fft": (C * work * COST_FFT_UNIT + px * COST_FFT_PX) * ms / threads,
    }
    compiled = {"direct": False, "separable": False, "fft": False}
    if settings.compiled:
        k = COSTS_COMPILED
        fast = {
            "direct": px * (k["direct_px"] + k["direct_tap"] * taps) * ms / threads,
            "separable": px * (k["separable_px"] + k["separable_tap"] * rank * (h + w)) * ms / threads,
        }
        # A one-off command charges the loops' load (settings.load_ms); a library process has
        # paid it once already (load_ms 0).
        for m, t in fast.items():
            if t + settings.load_ms < costs[m]:
                costs[m], compiled[m] = t + settings.load_ms, True
        if method in fast:
            compiled[method] = True  # a forced method runs on the fastest code there is
    chosen = min(costs, key=costs.get) if method == "auto" else method
    return MethodPlan(chosen, rank, (h, w), costs, compiled[chosen], (ty, tx, work), settings.compiled,
                      settings.load_ms)
