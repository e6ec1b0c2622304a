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

from imgconv._mode import ONE_SHOT
from imgconv.engine import _compiled
from imgconv.engine._threads import get_threads
from imgconv.errors import EngineError

METHODS = ("auto", "direct", "separable", "fft")

# ns per (pixel x channel) on ONE thread, from `benchmarks/bench_engine.py --calibrate`
# (CPU time, least-squares fit over kernels 3..65; 2-core AMD EPYC; 3840x2160x3 float32
# for the compiled loops, 960x540x3 with IMGCONV_NO_NUMBA=1 for SciPy). The compiled
# loops and the FFT scale with threads; scipy.ndimage runs on one.
COSTS_COMPILED = {
    "direct_px": 0.76, "direct_tap": 0.069,          # taps = non-zero kernel entries
    "separable_px": 0.57, "separable_tap": 0.090,    # taps = rank * (h + w)
}
COSTS_SCIPY = {  # scipy.ndimage.correlate / correlate1d, one channel at a time
    "direct_px": 4.3, "direct_tap": 1.03,            # taps = all kernel entries
    "separable_pass": 9.6, "separable_tap": 0.52,    # per rank component: pass + taps * (h + w)
}
# FFT: ns per (n log2 n) unit of transform work per plane (forward + inverse), plus the
# padding and copying per pixel; measured 0.55-0.9 per unit for 256-768 px tiles.
COST_FFT_UNIT = 0.75
COST_FFT_PX = 2.0


@dataclass
class Plan:
    """The method chosen for one kernel on one image shape, and why.

    ``costs`` holds the estimated milliseconds of every applicable method.
    """

    method: str
    rank: int
    kernel_shape: tuple
    costs: dict = field(default_factory=dict)
    compiled: bool = False
    tile: tuple = None

    def __str__(self):
        est = ", ".join(f"{m} {t:.1f} ms" for m, t in sorted(self.costs.items(), key=lambda kv: kv[1]))
        h, w = self.kernel_shape
        if self.method == "fft":
            loops = "scipy.fft"
        elif self.compiled:
            loops = "compiled loops"
        elif _compiled.AVAILABLE:
            loops = "scipy.ndimage: cheaper here than loading the compiled loops"
        else:
            loops = "scipy.ndimage; install imgconv[fast] for compiled loops"
        return f"{h}x{w} kernel, rank {self.rank}: {self.method} (estimates: {est}; {loops})"


#: estimated ms lost so far in this process by not loading the compiled loops
_missed = [0.0]


def plan_method(image_shape, kernel, method="auto", factors=None, record=False):
    """Estimate every method's cost for ``kernel`` on an image of ``image_shape`` and choose.

    ``method`` other than ``"auto"`` is honoured as given; the estimates are still reported.
    ``record`` (set by :func:`imgconv.convolve`, not by ``explain``) counts the time lost
    without the compiled loops, which decides when loading them pays.
    """
    from imgconv.engine.fft import tile_plan
    from imgconv.engine.separable import low_rank_factors

    if method not in METHODS:
        raise EngineError(f"unknown method {method!r} (choose from {', '.join(METHODS)})")
    H, W = image_shape[:2]
    C = image_shape[2] if len(image_shape) > 2 else 1
    h, w = kernel.shape
    px = float(H * W * C)
    taps = int(np.count_nonzero(kernel))
    if factors is None:
        factors = low_rank_factors(kernel)
    rank = factors[0].shape[0]
    ty, tx, work = tile_plan((H, W), (h, w))
    threads = get_threads()
    ms = 1e-6
    scipy = {
        "direct": px * (COSTS_SCIPY["direct_px"] + COSTS_SCIPY["direct_tap"] * h * w) * ms,
        "separable": px * rank * (COSTS_SCIPY["separable_pass"] + COSTS_SCIPY["separable_tap"] * (h + w)) * ms,
    }
    costs = dict(scipy)
    compiled = {"direct": False, "separable": False, "fft": False}
    costs["fft"] = (C * work * COST_FFT_UNIT + px * COST_FFT_PX) * ms / threads
    fast = {}
    if _compiled.AVAILABLE:
        k = COSTS_COMPILED
        fast = {
            "direct": px * (k["direct_px"] + k["direct_tap"] * taps) * ms / threads,
            "separable": px * (k["separable_px"] + k["separable_tap"] * rank * (h + w)) * ms / threads,
        }
        # Loading the loops costs LOAD_MS once per process. A one-shot command (imgconv._mode)
        # counts it, like renting skis until the rent paid would have bought them: pay the load
        # when it wins outright, or once the time lost without the loops adds up to the load
        # itself (within 2x of hindsight). A library process always uses them.
        counted = ONE_SHOT[0] and not _compiled.loaded() and _missed[0] < _compiled.LOAD_MS
        load = _compiled.LOAD_MS if counted else 0.0
        for m, t in fast.items():
            if t + load < costs[m]:
                costs[m], compiled[m] = t + load, True
    chosen = min(costs, key=costs.get) if method == "auto" else method
    if method != "auto" and method != "fft" and _compiled.AVAILABLE:
        compiled[method] = True  # a forced method runs on the fastest code there is
    if record and fast and ONE_SHOT[0] and not compiled[chosen] and not _compiled.loaded():
        _missed[0] += max(0.0, costs[chosen] - min(min(fast.values()), costs["fft"]))
    return Plan(chosen, rank, (h, w), costs, compiled[chosen], (ty, tx, work))
