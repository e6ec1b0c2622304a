"""The border treatment of deconvolution: reflect-extend, fade the far margin to the mean.

The periodic FFT then sees a continuous picture, so the borders do not ring. The PSF is
laid out so that circular convolution has ``scipy.ndimage.convolve``'s anchor. The same
in every dimension: an image (2-D) or a volume (3-D, extended and faded along Z too, so
its first and last planes do not ring either).

Examples
--------
>>> ext = Extension((20, 30), np.ones((3, 3)) / 9)
>>> ext.padded[0] >= 20 + 2 * ext.margin, ext.crop(ext.extend(np.ones((20, 30), np.float32))).shape
(True, (20, 30))
>>> Extension((6, 20, 30), np.ones((3, 3, 3)) / 27).padded
(40, 54, 64)
"""
import functools

import numpy as np

from imgconv.settings import current


class Extension:
    """The image (or volume) reflect-extended for periodic FFTs: padded geometry, fades and
    the PSF's transfer function, shared by all channels of one image."""

    def __init__(self, shape, kernel):
        import scipy.fft as sf

        self.shape = tuple(shape)
        self.kernel = kernel
        self.margin = max(2 * max(kernel.shape), 16)
        self.padded = tuple(sf.next_fast_len(n + 2 * self.margin, real=True) for n in self.shape)
        self.fade = tuple(_fade(p, n, self.margin) for p, n in zip(self.padded, self.shape))
        # A PSF symmetric under every mirroring blurs a reflected margin exactly as scipy's
        # reflect mode does, so the reflected margin is consistent data; otherwise it is not.
        self.mirror_symmetric = all(np.allclose(kernel, np.flip(kernel, axis), rtol=0, atol=1e-12)
                                    for axis in range(kernel.ndim))

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
        """Reflect-extend one channel to the padded size, fading the far margin to its mean."""
        m = self.margin
        ext = np.pad(channel, [(m, p - n - m) for p, n in zip(self.padded, self.shape)], mode="symmetric")
        mean = np.float32(channel.mean())
        ext -= mean
        for axis, fade in enumerate(self.fade):
            ext *= fade.reshape([-1 if a == axis else 1 for a in range(ext.ndim)])
        ext += mean
        return ext

    def crop(self, ext):
        m = self.margin
        return ext[tuple(slice(m, m + n) for n in self.shape)]

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
    i = np.arange(n)
    outside = np.where(i < margin, margin - i, np.where(i >= margin + length, i - margin - length + 1, 0))
    half = (n - length) / 2.0
    flat = margin / 2.0
    t = np.clip((outside - flat) / max(half - flat, 1.0), 0.0, 1.0)
    return (np.cos(0.5 * np.pi * t) ** 2).astype(np.float32)
