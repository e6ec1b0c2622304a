"""The separable method for volumes: passes along Z, then low-rank 2-D passes in each plane.

A 3-D kernel is unfolded into a ``kz x (ky * kx)`` matrix and split by the SVD into
components ``u_r(z) x M_r(y, x)``; each plane kernel ``M_r`` is split again into column x
row pairs (:func:`imgconv.engine.separable.low_rank_factors`). An exact outer product of
three 1-D factors -- a Gaussian (also anisotropic), a box -- is one component of one pair
and costs ``kz + ky + kx`` multiply-adds per voxel instead of ``kz * ky * kx``; a 3-D LoG is
two components. Components are dropped only while the error they could cause stays below
1e-7 of the kernel's absolute sum, as in 2-D.

With the compiled loops each component is the 2-D low-rank loop of
:mod:`imgconv.engine._loops` on every plane (:func:`imgconv.engine._loops3d.correlate_planes`,
all planes' blocks of rows on the threads), then a pass along Z in place
(:func:`imgconv.engine._loops3d.correlate_z_inplace`): no memory beyond the output for one
component, one volume more for several; without them, ``scipy.ndimage.correlate1d`` along
each axis.

Examples
--------
>>> g = np.array([1.0, 2.0, 1.0]) / 4
>>> f = axis_factors(np.einsum("i,j,k->ijk", g, [1, 0, -1], g))
>>> f.rank, f.pairs, f.taps
(1, 1, 9)
"""
from dataclasses import dataclass

import numpy as np

from imgconv.engine import _compiled
from imgconv.engine.nd_boundary import volume_maps
from imgconv.engine.nd_direct import row_blocks3d
from imgconv.engine.separable import low_rank_factors
from imgconv.settings import current


@dataclass(frozen=True)
class AxisFactors:
    """A 3-D kernel as ``sum_r outer(z[r], sum_s outer(planes[r][0][s], planes[r][1][s]))``.

    ``z`` is (rank, kz); ``planes[r]`` the (column (s, ky), row (s, kx)) factors of ``M_r``.
    """

    z: np.ndarray
    planes: tuple

    @property
    def rank(self):
        """Components along Z (passes along Z)."""
        return self.z.shape[0]

    @property
    def pairs(self):
        """Column x row pairs over all components (2-D passes)."""
        return sum(cols.shape[0] for cols, _ in self.planes)

    @property
    def taps(self):
        """Multiply-adds per voxel (and channel)."""
        kz = self.z.shape[1]
        return sum(kz + cols.shape[0] * (cols.shape[1] + rows.shape[1]) for cols, rows in self.planes)

    def kernel(self):
        """The kernel these factors make (for checks)."""
        return sum(np.einsum("i,jk->ijk", u, cols.T @ rows) for u, (cols, rows) in zip(self.z, self.planes))


def axis_factors(kernel, rtol=1e-7):
    """Split a 3-D ``kernel`` into :class:`AxisFactors` (SVD along Z, then in each plane).

    Examples
    --------
    >>> k = np.random.default_rng(0).random((3, 4, 5))
    >>> f = axis_factors(k)
    >>> bool(np.allclose(f.kernel(), k)), f.rank
    (True, 3)
    """
    k = np.asarray(kernel, np.float64)
    kz, ky, kx = k.shape
    z, flat = low_rank_factors(k.reshape(kz, ky * kx), rtol)
    planes = tuple(low_rank_factors(m.reshape(ky, kx), rtol) for m in flat)
    return AxisFactors(z, planes)


def correlate_separable_volume(volume, factors, anchor, mode, cval, compiled=None, out=None):
    """Correlate ``volume`` (Z, Y, X, C) float32 with the kernel of ``factors`` anchored at ``anchor``.

    ``out``, a C-contiguous float32 array of the volume's shape (not the volume itself),
    receives the result (a buffer reused by Richardson-Lucy).
    """
    if compiled is None:
        compiled = _compiled.enabled()
    if not compiled:
        result = _correlate_separable_scipy(volume, factors, anchor, mode, cval)
        if out is None:
            return result
        out[...] = result
        return out
    Z, Y, X, C = volume.shape
    kz = factors.z.shape[1]
    ky, kx = factors.planes[0][0].shape[1], factors.planes[0][1].shape[1]
    zmap, ymap, xmap = volume_maps((Z, Y, X), (kz, ky, kx), anchor, mode)
    loops3d = _compiled.loops3d()
    src = np.ascontiguousarray(volume, dtype=np.float32).reshape(Z, Y, X * C)
    out = np.empty((Z, Y, X * C), np.float32) if out is None else out.reshape(Z, Y, X * C)
    plane = np.empty_like(out) if factors.rank > 1 else out
    blocks = max(1, min(Y // 16, -(-8 * current().threads // Z)))  # enough jobs for the threads
    for r, (u, (cols, rows)) in enumerate(zip(factors.z, factors.planes)):
        if kz == 1:  # no pass along Z: its one weight scales the plane factors
            cols = cols * u[0]
        target = out if r == 0 else plane
        loops3d.correlate_planes(src, cols.astype(np.float32), rows.astype(np.float32), ymap, xmap,
                                 anchor[2], C, np.float32(cval), blocks, target)
        if kz > 1:  # beyond the first or last plane, the plane passes made cval * sum(M_r) of cval
            plane_cval = np.float32(cval * cols.sum(1) @ rows.sum(1))
            loops3d.correlate_z_inplace(target, Y, u.astype(np.float32), zmap, plane_cval, row_blocks3d(Y))
        if r:
            out += plane
    return out.reshape(Z, Y, X, C)


def _correlate_separable_scipy(volume, factors, anchor, mode, cval):
    """Fallback without numba: ``scipy.ndimage.correlate1d`` along Z, Y and X per component."""
    from scipy import ndimage

    sizes = (factors.z.shape[1], factors.planes[0][0].shape[1], factors.planes[0][1].shape[1])
    origins = [a - k // 2 for a, k in zip(anchor, sizes)]
    x = volume.astype(np.float32, copy=False)
    shift = mode == "constant" and cval != 0
    if shift:  # later passes would see cval where the 3-D filter sees cval too: shift it to zero
        x = x - np.float32(cval)
    out = np.zeros(volume.shape, np.float32)
    along_z = np.empty(volume.shape, np.float32)
    along_y = np.empty(volume.shape, np.float32)
    for u, (cols, rows) in zip(factors.z, factors.planes):
        ndimage.correlate1d(x, u, axis=0, output=along_z, mode=mode, cval=0.0, origin=origins[0])
        for v, w in zip(cols, rows):
            ndimage.correlate1d(along_z, v, axis=1, output=along_y, mode=mode, cval=0.0, origin=origins[1])
            out += ndimage.correlate1d(along_y, w, axis=2, mode=mode, cval=0.0, origin=origins[2])
    if shift:
        out += np.float32(cval * factors.kernel().sum())
    return out
