"""The border treatment of deconvolution: extend by the border model, fade the far margin.

The picture (or volume) is extended past its border as the boundary ``mode`` says
(scipy.ndimage's meanings), each axis by twice the PSF's extent along it (at least 16),
and the far margin is faded to the mean (to ``cval`` for ``constant``), so the periodic
FFT sees a continuous picture and the borders do not ring, also at a volume's first and
last planes. ``wrap`` needs no margin: the FFT's own periodicity is that model. The PSF is
laid out so that circular convolution has ``scipy.ndimage.convolve``'s anchor.

The extended margin is *consistent* data (the blur of the extended sharp picture) for
``wrap``, and for ``reflect`` and ``mirror`` with a PSF symmetric under every mirroring;
otherwise the deconvolution treats it as unknown and re-estimates it (see ``wiener`` and
``richardson_lucy``).

Examples
--------
>>> ext = Extension((20, 30), np.ones((3, 3)) / 9)
>>> ext.padded[0] >= 20 + 2 * ext.margins[0], ext.crop(ext.extend(np.ones((20, 30), np.float32))).shape
(True, (20, 30))
>>> Extension((100, 5000), np.ones((1, 2049)) / 2049).margins  # each axis by what its PSF side needs
(16, 4098)
>>> Extension((6, 20, 30), np.ones((3, 3, 3)) / 27).padded
(40, 54, 64)
"""
import functools

import numpy as np

from imgconv.engine.boundary import check_mode, source_index
from imgconv.settings import current


class Extension:
    """The image (or volume) extended for periodic FFTs by a boundary ``mode``: padded
    geometry, fades and the PSF's transfer function, shared by all channels of one image.

    Each axis gets a margin of twice the PSF's extent along that axis (at least 16 px):
    a 1 x 2049 motion line pads the width by 4098 and the height by 16, not both by 4098
    (which made a 100 x 5000 picture take 4 GB)."""

    def __init__(self, shape, kernel, mode="reflect", cval=0.0):
        import scipy.fft as sf

        self.shape = tuple(shape)
        self.kernel = kernel
        self.mode = check_mode(mode)
        self.cval = np.float32(cval)
        if mode == "wrap":
            self.margins = (0,) * len(self.shape)
            self.padded = self.shape
        else:
            self.margins = tuple(max(2 * k, 16) for k in kernel.shape)
            self.padded = tuple(sf.next_fast_len(n + 2 * m, real=True) for n, m in zip(self.shape, self.margins))
        self.fade = tuple(_fade(p, n, m) for p, n, m in zip(self.padded, self.shape, self.margins))
        # A PSF symmetric under every mirroring blurs a reflected margin exactly as scipy's
        # reflect mode does, so the reflected margin is consistent data; otherwise it is not.
        self.mirror_symmetric = all(np.allclose(kernel, np.flip(kernel, axis), rtol=0, atol=1e-12)
                                    for axis in range(kernel.ndim))
        self.consistent = mode == "wrap" or (mode in ("reflect", "mirror") and self.mirror_symmetric)

    @functools.cached_property
    def otf(self):
        """The PSF's transfer function on the rfft grid of the padded size (computed on first use),
        laid out so that circular convolution has scipy.ndimage.convolve's anchor."""
        import scipy.fft as sf

        kernel = self.kernel
        embedded = np.zeros(self.padded, np.float32)
        embedded[tuple(slice(0, k) for k in kernel.shape)] = kernel
        embedded = np.roll(embedded, tuple(-(k // 2) for k in kernel.shape), axis=tuple(range(kernel.ndim)))
        return sf.rfftn(embedded, workers=current().threads)

    def extend(self, channel):
        """Extend one channel to the padded size by the mode, fading the far margin to its
        mean (``cval`` for ``constant``)."""
        ext = np.asarray(channel, np.float32)
        for axis, (n, p, m) in enumerate(zip(self.shape, self.padded, self.margins)):
            index = source_index(n, m, p - n - m, self.mode)
            ext = np.take(ext, np.maximum(index, 0), axis=axis)
            if (index < 0).any():  # constant: outside the image is cval
                where = [slice(None)] * ext.ndim
                where[axis] = index < 0
                ext[tuple(where)] = self.cval
        if not any(self.margins):
            return ext.copy() if ext is channel else ext
        target = self.cval if self.mode == "constant" else np.float32(np.mean(channel))
        ext -= target
        for axis, fade in enumerate(self.fade):
            ext *= fade.reshape([-1 if a == axis else 1 for a in range(ext.ndim)])
        ext += target
        return ext

    def crop(self, ext):
        return ext[tuple(slice(m, m + n) for n, m in zip(self.shape, self.margins))]

    def gradient_energy(self):
        """Transfer function of the discrete gradient energy, on the rfft grid (float32)."""
        last = len(self.padded) - 1
        energy = 0
        for axis, n in enumerate(self.padded):
            f = (np.fft.rfftfreq(n) if axis == last else np.fft.fftfreq(n)).astype(np.float32)
            f = f.reshape([-1 if a == axis else 1 for a in range(len(self.padded))])
            energy = energy + 4 * np.sin(np.pi * f) ** 2
        return energy


def _fade(n, length, margin):
    """1-D weights over a padded axis: 1 on the image and the inner half of the margin,
    a raised-cosine fade to 0 where the two margins meet (the FFT's wrap-around seam)."""
    if margin == 0:
        return np.ones(n, np.float32)
    i = np.arange(n)
    outside = np.where(i < margin, margin - i, np.where(i >= margin + length, i - margin - length + 1, 0))
    half = (n - length) / 2.0
    flat = margin / 2.0
    t = np.clip((outside - flat) / max(half - flat, 1.0), 0.0, 1.0)
    return (np.cos(0.5 * np.pi * t) ** 2).astype(np.float32)
