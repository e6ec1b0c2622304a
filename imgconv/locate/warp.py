"""Rotated and scaled templates with their outline masks, sampled on a level's grid.

Geometry (the conventions of the whole package)
-----------------------------------------------
A template offset ``(dx, dy)`` from the template's centre (x to the right, y
down, in template pixels) lands in the image, for angle ``a`` and scale ``s``, at
the offset ``s * (cos a * dx + sin a * dy, -sin a * dx + cos a * dy)`` from the
match centre: the template appears turned by ``a`` degrees counter-clockwise as
seen on screen (rows grow downwards), like ``motion:angle``, and ``s`` times as
large.  The template's centre is ``((w - 1) / 2, (h - 1) / 2)``.

Level ``L`` of the pyramid has pixels ``f = 2**L`` times larger; its pixel ``r``
sits on the full-resolution coordinate ``f * r``.

A warped template is sampled on a grid of ``nx x ny`` level pixels centred on the
template's centre, so its centre lies at ``((nx - 1) / 2, (ny - 1) / 2)`` of its
box.  At full resolution the box is as wide as the samples inside the outline
need (a half-integer centre for even sizes: at angle 0 and scale 1 the samples
fall exactly on the template's pixels); at coarser levels it is always odd, so
that every hypothesis is centred on a pixel and neighbouring hypotheses are
compared at the same positions, and the outline is eroded by ``COARSE_EROSION``
level pixels.  The outline mask keeps the samples whose source point lies inside
the hull of the template's pixel centres; a user mask is sampled (linearly) at
the same points and must be at least 0.5 there.
"""
import math

import numpy as np

from imgconv.locate import sampling

#: Hypotheses whose box has at most this many pixels are sampled together with NumPy
#: (at most BATCH_HYPOTHESES at a time); larger ones one by one with Pillow (same samples).
BATCH_BOX_PIXELS = 1600
BATCH_HYPOTHESES = 256

def cos_sin(angle):
    """cos and sin of an angle in degrees, exact at multiples of 90.

    Examples
    --------
    >>> cos_sin(90.0), cos_sin(-180.0)
    ((0.0, 1.0), (-1.0, 0.0))
    """
    a = angle % 360.0
    exact = {0.0: (1.0, 0.0), 90.0: (0.0, 1.0), 180.0: (-1.0, 0.0), 270.0: (0.0, -1.0)}
    if a in exact:
        return exact[a]
    t = math.radians(a)
    return math.cos(t), math.sin(t)


#: At coarser levels the outline is eroded by this many level pixels: the pyramid's
#: smoothing mixes whatever surrounds the object into its border pixels, and the
#: template has no such surround (on a bright object pasted onto a dark scene the
#: uneroded outline scored 0.32 at the true scale against 0.76 at 0.67 times it).
COARSE_EROSION = 0.75


def half_extent(shape, scale, f=1):
    """(b, a): half the outline's height and width in template pixels, eroded at coarse levels."""
    h, w = shape[:2]
    a, b = (w - 1) / 2, (h - 1) / 2
    if f > 1:
        margin = min(COARSE_EROSION * f / scale, 0.25 * min(h - 1, w - 1))
        a, b = a - margin, b - margin
    return b, a


def box_size(shape, angle, scale, f=1):
    """(ny, nx) of the level-``f`` sample grid of the template at ``angle`` and ``scale``."""
    b, a = half_extent(shape, scale, f)
    c, s = cos_sin(angle)
    k = scale / f
    ex = k * (abs(c) * a + abs(s) * b)
    ey = k * (abs(s) * a + abs(c) * b)
    if f > 1:  # odd: every hypothesis of a coarse level is centred on a pixel
        return 2 * math.floor(ey + 1e-6) + 1, 2 * math.floor(ex + 1e-6) + 1
    return math.floor(2 * ey + 1e-6) + 1, math.floor(2 * ex + 1e-6) + 1


class Warp:
    """One hypothesis sampled at one level.

    Attributes
    ----------
    angle, scale : float
    values : numpy.ndarray
        (C, ny, nx) float64 template samples, zero outside the mask, minus their mean inside.
    mask : numpy.ndarray
        (ny, nx) bool outline (and user) mask.
    count : int
        Pixels in the mask.
    norm2 : float
        Sum of squares of ``values`` (0: a flat hypothesis, never scored).
    """

    __slots__ = ("angle", "count", "mask", "norm2", "scale", "values")

    @property
    def shape(self):
        return self.mask.shape

    @property
    def centre(self):
        """(cy, cx) of the template centre inside the box, in level pixels."""
        ny, nx = self.mask.shape
        return (ny - 1) / 2, (nx - 1) / 2


class WarpedTemplates:
    """Rotated and scaled copies of one template, with outline masks, at any level.

    Parameters
    ----------
    template : numpy.ndarray
        (C, h, w) float64.
    mask : numpy.ndarray or None
        (h, w) bool user mask.

    Before sampling at level ``f`` and scale ``s`` the template is blurred as the
    scene is: the pyramid's smoothing, variance ``(f**2 - 1) / 3`` full-resolution
    pixels^2, is ``(f**2 - 1) / (3 s**2)`` template pixels^2; a shrunk object
    (``s < 1``) has also been integrated over its scene pixels, another
    ``(1 / s**2 - 1) / 12``.  A Gaussian of the summed variance is applied.

    Samples are cubic convolution with a = -1 and clamped edges, Pillow's affine
    ``BICUBIC`` (exact on the template's pixels): Pillow for large boxes, the same
    kernel in NumPy for batches of small ones (they agree within 1e-7).  Blurred
    templates and warps are kept for the search's lifetime (this object lives for
    one search, so nothing outlives it).
    """

    #: Bytes of warps kept for reuse (refinement revisits the same lattice of angles and scales).
    CACHE_BYTES = 64 * 2 ** 20

    def __init__(self, template, mask=None):
        self.template = template
        self.user_mask = None if mask is None else mask.astype(np.float64)[None]
        self._planes = {}
        self._cache = {}
        self._cached_bytes = 0

    @property
    def shape(self):
        return self.template.shape[1:]

    def _blurred(self, sigma):
        """(planes as float32 arrays, as Pillow images) of the template blurred by ``sigma``."""
        key = round(sigma * 20) / 20  # 0.05 px: closer blurs are indistinguishable here
        if key not in self._planes:
            h, w = self.shape
            rows, cols = sampling.gaussian_matrix(h, key), sampling.gaussian_matrix(w, key)
            arrays = np.stack([(rows @ plane @ cols.T) if key > 0 else plane
                               for plane in self.template]).astype(np.float32)
            self._planes[key] = (arrays, [_float_image(plane) for plane in arrays])
        return self._planes[key]

    def warp(self, hypotheses, f=1):
        """The template at each ``(angle, scale)`` of ``hypotheses`` on the level-``f`` grid.

        Returns
        -------
        list of Warp
            One per hypothesis, in order; a hypothesis whose box is under 2 x 2
            samples or whose mask holds under 4 pixels gets ``norm2 = 0``.
        """
        out = [None] * len(hypotheses)
        groups = {}
        for i, (angle, scale) in enumerate(hypotheses):
            key = (f, round(angle, 9), round(scale, 12))
            if key in self._cache:
                out[i] = self._cache[key]
            else:
                sigma = round(template_blur(f, scale) * 20) / 20
                groups.setdefault(sigma, []).append(i)
        for sigma, members in groups.items():
            sizes = {i: box_size(self.shape, *hypotheses[i], f) for i in members}
            small = [i for i in members if sizes[i][0] * sizes[i][1] <= BATCH_BOX_PIXELS]
            large = [i for i in members if sizes[i][0] * sizes[i][1] > BATCH_BOX_PIXELS]
            for start in range(0, len(small), BATCH_HYPOTHESES):
                chunk = small[start:start + BATCH_HYPOTHESES]
                batch = self._warp_batch([hypotheses[i] for i in chunk], f, sigma,
                                         [sizes[i] for i in chunk])
                for i, warp in zip(chunk, batch):
                    out[i] = warp
            for i in large:
                out[i] = self._warp_one(*hypotheses[i], f, sigma)
            for i in members:
                self._remember((f, round(hypotheses[i][0], 9), round(hypotheses[i][1], 12)), out[i])
        return out

    def _remember(self, key, warp):
        size = warp.values.nbytes + warp.mask.nbytes
        if self._cached_bytes + size <= self.CACHE_BYTES:
            self._cache[key] = warp
            self._cached_bytes += size

    def _warp_one(self, angle, scale, f, sigma):
        """One hypothesis through Pillow's affine transform (fast for large boxes)."""
        from PIL import Image

        h, w = self.shape
        a, b = (w - 1) / 2, (h - 1) / 2
        ny, nx = box_size((h, w), angle, scale, f)
        c, s = cos_sin(angle)
        k = scale / f
        # source (col, row) = A (x, y) + offset for box pixel (x, y): Pillow's affine
        # transform samples at A (x + 0.5, y + 0.5) + t - 0.5
        m00, m01, m10, m11 = c / k, -s / k, s / k, c / k
        t0 = a + 0.5 - m00 * nx / 2 - m01 * ny / 2
        t1 = b + 0.5 - m10 * nx / 2 - m11 * ny / 2
        data = (m00, m01, t0, m10, m11, t1)
        u = np.arange(nx) - (nx - 1) / 2
        v = np.arange(ny) - (ny - 1) / 2
        dx = m00 * u[None, :] + m01 * v[:, None]
        dy = m10 * u[None, :] + m11 * v[:, None]
        bb, aa = half_extent((h, w), scale, f)
        inside = (np.abs(dx) <= aa + 1e-6) & (np.abs(dy) <= bb + 1e-6)
        if self.user_mask is not None:
            inside &= sampling.bilinear(self.user_mask, b + dy, a + dx)[0] >= 0.5
        images = self._blurred(sigma)[1]
        values = np.empty((len(images), ny, nx))
        for c_, image in enumerate(images):
            values[c_] = np.asarray(image.transform((nx, ny), Image.Transform.AFFINE, data,
                                                    resample=Image.Resampling.BICUBIC))
        return _finish(angle, scale, values, inside)

    def _warp_batch(self, hypotheses, f, sigma, sizes):
        """Many small hypotheses at once (NumPy; the same samples as Pillow's transform)."""
        h, w = self.shape
        a, b = (w - 1) / 2, (h - 1) / 2
        sizes = np.array(sizes)
        NY, NX = sizes.max(axis=0)
        trig = np.array([cos_sin(angle) for angle, _ in hypotheses])
        k = np.array([scale / f for _, scale in hypotheses])[:, None, None]
        c, s = trig[:, 0, None, None], trig[:, 1, None, None]
        u = np.arange(NX)[None, None, :] - (sizes[:, 1, None, None] - 1) / 2
        v = np.arange(NY)[None, :, None] - (sizes[:, 0, None, None] - 1) / 2
        dx = (c / k) * u + (-s / k) * v  # as _warp_one computes them (ties at mask edges)
        dy = (s / k) * u + (c / k) * v
        extents = np.array([half_extent((h, w), scale, f) for _, scale in hypotheses])
        inside = ((np.abs(dx) <= extents[:, 1, None, None] + 1e-6)
                  & (np.abs(dy) <= extents[:, 0, None, None] + 1e-6)
                  & (np.arange(NX)[None, None, :] < sizes[:, 1, None, None])
                  & (np.arange(NY)[None, :, None] < sizes[:, 0, None, None]))
        rows, cols = b + dy, a + dx
        if self.user_mask is not None:
            inside &= sampling.bilinear(self.user_mask, rows, cols)[0] >= 0.5
        values = sampling.cubic(self._blurred(sigma)[0], rows, cols)        # (C, B, NY, NX)
        # zero mean inside each mask, zero outside, and the norms: all at once
        counts = inside.sum(axis=(1, 2))
        m = inside[None]
        means = np.where(m, values, 0.0).sum(axis=(2, 3)) / np.maximum(counts, 1)
        t0 = np.where(m, values - means[:, :, None, None], 0.0)
        norms = np.einsum("cbyx,cbyx->b", t0, t0)
        sizes_abs = np.where(m, np.abs(values), 0.0).max(axis=(0, 2, 3))
        usable = ((counts >= 4) & (sizes.min(axis=1) >= 2)
                  & (norms > counts * values.shape[0] * (1e-7 * np.where(sizes_abs > 0, sizes_abs, 1.0)) ** 2))
        warps = []
        for i, (angle, scale) in enumerate(hypotheses):
            ny, nx = sizes[i]
            warp = Warp()
            warp.angle, warp.scale = float(angle), float(scale)
            warp.mask = inside[i, :ny, :nx]
            warp.count = int(counts[i])
            if usable[i]:
                warp.values, warp.norm2 = t0[:, i, :ny, :nx], float(norms[i])
            else:
                warp.values, warp.norm2 = np.zeros((values.shape[0], ny, nx)), 0.0
            warps.append(warp)
        return warps

    def pose(self, cy, cx, angle, scale):
        """The template placed with its centre at the sub-pixel ``(cy, cx)`` of the image.

        Returns
        -------
        values : numpy.ndarray
            (C, ny, nx) float64 samples on the image pixels ``top..top+ny-1`` x
            ``left..left+nx-1`` (full resolution).
        inside : numpy.ndarray
            (ny, nx) bool: the samples inside the outline (and user mask).
        top, left : int
        """
        from PIL import Image

        h, w = self.shape
        a, b = (w - 1) / 2, (h - 1) / 2
        c, s = cos_sin(angle)
        ey = scale * (abs(s) * a + abs(c) * b)
        ex = scale * (abs(c) * a + abs(s) * b)
        top, left = math.floor(cy - ey), math.floor(cx - ex)
        ny = math.floor(cy + ey) - top + 1
        nx = math.floor(cx + ex) - left + 1
        m00, m01, m10, m11 = c / scale, -s / scale, s / scale, c / scale
        # source col = a + m00 (left + x - cx) + m01 (top + y - cy), row likewise (see warp)
        t0 = a + m00 * (left - cx) + m01 * (top - cy) + 0.5 - 0.5 * m00 - 0.5 * m01
        t1 = b + m10 * (left - cx) + m11 * (top - cy) + 0.5 - 0.5 * m10 - 0.5 * m11
        data = (m00, m01, t0, m10, m11, t1)
        u = left + np.arange(nx) - cx
        v = top + np.arange(ny) - cy
        dx = m00 * u[None, :] + m01 * v[:, None]
        dy = m10 * u[None, :] + m11 * v[:, None]
        inside = (np.abs(dx) <= a + 1e-6) & (np.abs(dy) <= b + 1e-6)
        if self.user_mask is not None:
            inside &= sampling.bilinear(self.user_mask, b + dy, a + dx)[0] >= 0.5
        values = np.stack([np.asarray(p.transform((nx, ny), Image.Transform.AFFINE, data,
                                                  resample=Image.Resampling.BICUBIC))
                           for p in self._blurred(template_blur(1, scale))[1]]).astype(np.float64)
        return values, inside, top, left


def template_blur(f, scale):
    """Gaussian sigma (template pixels) that blurs the template as level ``f`` blurs the scene.

    Examples
    --------
    >>> template_blur(1, 1.0), round(template_blur(4, 1.0), 3), round(template_blur(1, 0.5), 3)
    (0.0, 2.236, 0.5)
    """
    variance = (f * f - 1) / (3 * scale * scale) + max(0.0, (1 / (scale * scale) - 1) / 12)
    return math.sqrt(variance)


def _float_image(plane):
    from PIL import Image

    return Image.fromarray(np.ascontiguousarray(plane, np.float32), "F")


def _finish(angle, scale, values, inside):
    """A Warp from its samples and mask: zero-mean inside, zero outside, its norm."""
    warp = Warp()
    warp.angle, warp.scale, warp.mask = float(angle), float(scale), np.ascontiguousarray(inside)
    count = int(np.count_nonzero(inside))
    warp.count = count
    warp.values, warp.norm2 = np.zeros(values.shape), 0.0
    if count >= 4 and min(inside.shape) >= 2:
        m = inside.astype(np.float64)
        # einsum, not np.dot/vdot/tensordot: OpenBLAS wakes its threads for long vectors,
        # which cost 20 ms a call on a busy machine
        means = np.einsum("cyx,yx->c", values, m) / count
        t0 = values - means[:, None, None]
        t0 *= m
        norm2 = float(np.einsum("cyx,cyx->", t0, t0))
        inner = values * m
        size = max(float(inner.max()), -float(inner.min())) or 1.0
        if norm2 > count * t0.shape[0] * (1e-7 * size) ** 2:
            warp.values, warp.norm2 = t0, norm2
    return warp
