"""Choosing a method for a 3-D kernel: the cost model of :mod:`imgconv.engine.planner`, in 3-D.

Each method's time is ``fixed + per voxel * voxels + per tap * taps`` (nanoseconds, voxels
counted per channel), with the 3-D loops' constants measured by
``benchmarks/bench_volume.py --calibrate`` (2-core AMD EPYC, 64x256x256 float32 volumes,
kernels 3..15 per side, CPU time, least squares), the FFT's transform cost measured on
the same volumes, and SciPy's and the FFT's per-voxel costs taken from the 2-D model.

Examples
--------
>>> import numpy as np
>>> g = np.exp(-0.5 * (np.arange(9) - 4.0) ** 2 / 4)
>>> plan = plan_volume((64, 256, 256, 1), np.einsum("i,j,k->ijk", g, g, g))
>>> plan.rank, plan.pairs, plan.costs["separable"] < plan.costs["direct"] / 10  # fft may win without numba
(1, 1, True)
>>> plan_volume((64, 256, 256, 1), np.random.default_rng(0).random((21, 21, 21))).method
'fft'
"""
from dataclasses import dataclass

import numpy as np

from imgconv.choices import METHODS
from imgconv.engine.planner import COST_FFT_PX, COSTS_SCIPY, MethodPlan
from imgconv.errors import EngineError
from imgconv.settings import current

# ns per (voxel x channel) on ONE thread, from `benchmarks/bench_volume.py --calibrate`.
COSTS_COMPILED_3D = {
    "direct_px": 1.5, "direct_tap": 0.086,        # taps = non-zero kernel entries (+ COST_PAD_PX)
    "separable_pass": 2.5, "separable_tap": 0.085,  # per component (its plane passes and Z pass)
}
# the padded copy the 3-D FFT and direct methods make, per voxel
COST_PAD_PX = 1.0
# ns per (n log2 n) unit of a 3-D tile's transforms: measured 1.5-2.2 (kernels 11..21 on
# 64x256x256, one thread), against 0.75 in 2-D (the transforms along Z stride through memory)
COST_FFT_UNIT_3D = 1.9


@dataclass(frozen=True)
class VolumePlan(MethodPlan):
    """The method chosen for one 3-D kernel on one volume shape, and why.

    ``rank`` is the number of components along Z, ``pairs`` the column x row pairs they
    hold; ``costs`` the estimated milliseconds of every method.
    """

    pairs: int = 1

    def __str__(self):
        est = ", ".join(f"{m} {t:.1f} ms" for m, t in sorted(self.costs.items(), key=lambda kv: kv[1]))
        kz, ky, kx = self.kernel_shape
        if self.method == "fft":
            loops = "scipy.fft, tiles of " + "x".join(str(t) for t in self.tile[2::-1])
        elif self.compiled:
            loops = "compiled 3-D loops"
        elif self.loops_allowed:
            loops = "scipy.ndimage: cheaper here than loading the compiled loops"
        else:
            loops = "scipy.ndimage (compiled loops off: numba missing or IMGCONV_NO_NUMBA set)"
        parts = "1 component" if self.rank == 1 else f"{self.rank} components"
        return (f"{kx}x{ky}x{kz} kernel (W x H x D), {parts} along Z, {self.pairs} separable pair"
                f"{'s' if self.pairs != 1 else ''}: {self.method} (estimates: {est}; {loops})")


def plan_volume(volume_shape, kernel, method="auto", factors=None, settings=None):
    """Estimate every method's cost for a 3-D ``kernel`` on a Z x Y x X x C volume and choose.

    ``method`` other than ``"auto"`` is honoured as given. Depends only on the arguments and
    ``settings`` (default: the current :class:`imgconv.settings.Settings`).
    """
    from imgconv.engine.nd_fft import tile_plan_volume
    from imgconv.engine.nd_separable import axis_factors

    if method not in METHODS:
        raise EngineError(f"unknown method {method!r} (choose from {', '.join(METHODS)})")
    settings = current() if settings is None else settings
    Z, Y, X = volume_shape[:3]
    C = volume_shape[3] if len(volume_shape) > 3 else 1
    voxels = float(Z * Y * X * C)
    if factors is None:
        factors = axis_factors(kernel)
    taps = int(np.count_nonzero(kernel))
    tile = tile_plan_volume((int(Z), int(Y), int(X)), tuple(int(n) for n in kernel.shape))
    threads = settings.threads
    ms = 1e-6
    sp = COSTS_SCIPY  # a 2-D component there is two passes; here one along Z and two per pair
    costs = {
        "direct": voxels * (sp["direct_px"] + sp["direct_tap"] * kernel.size) * ms,
        "separable": voxels * (sp["separable_pass"] / 2 * (factors.rank + 2 * factors.pairs)
                               + sp["separable_tap"] * factors.taps) * ms,
        "fft": (C * tile[3] * COST_FFT_UNIT_3D + voxels * (COST_FFT_PX + COST_PAD_PX)) * ms / threads,
    }
    compiled = {"direct": False, "separable": False, "fft": False}
    if settings.compiled:
        k = COSTS_COMPILED_3D
        fast = {
            "direct": voxels * (COST_PAD_PX + k["direct_px"] + k["direct_tap"] * taps) * ms / threads,
            "separable": voxels * (k["separable_pass"] * factors.rank + k["separable_tap"] * factors.taps)
            * ms / threads,
        }
        for m, t in fast.items():  # a one-off command pays for loading the loops (settings.load_ms)
            if t + settings.load_ms < costs[m]:
                costs[m], compiled[m] = t + settings.load_ms, True
        if method in fast:
            compiled[method] = True  # a forced method runs on the fastest code there is
    chosen = min(costs, key=costs.get) if method == "auto" else method
    return VolumePlan(chosen, factors.rank, tuple(kernel.shape), costs, compiled[chosen], tile,
                      settings.compiled, factors.pairs)
