"""The border treatment of deconvolution: extend by the border model, fade the far margin.

The picture is extended past its border as the boundary ``mode`` says (scipy.ndimage's
meanings, :func:`imgconv.engine.boundary.pad`), and the far margin is faded to the mean
(to ``cval`` for ``constant``), so the periodic FFT sees a continuous picture and the
borders do not ring. ``wrap`` needs no margin: the FFT's own periodicity is that model.
The PSF is laid out so that circular convolution has ``scipy.ndimage.convolve``'s anchor.

The extended margin is *consistent* data (the blur of the extended sharp picture) for
``wrap``, and for ``reflect`` and ``mirror`` with a PSF symmetric under both mirrorings;
otherwise the deconvolution treats it as unknown and re-estimates it (see ``wiener`` and
``richardson_lucy``).

Examples
--------
>>> ext = Extension((20, 30), np.ones((3, 3)) / 9)
>>> ext.padded[0] >= 20 + 2 * ext.margins[0], ext.crop(ext.extend(np.ones((20, 30), np.float32))).shape
(True, (20, 30))
>>> Extension((100, 5000), np.ones((1, 2049)) / 2049).margins  # each axis by what its PSF side needs
(16, 4098)
"""
import numpy as np

from imgconv.engine.boundary import check_mode, pad
from imgconv.settings import current


class Extension:
    """The image extended for periodic FFTs by a boundary ``mode``: padded geometry, fades and
    the PSF's transfer function, shared by all channels of one image.

    Each axis gets a margin of twice the PSF's extent along that axis (at least 16 px):
    a 1 x 2049 motion line pads the width by 4098 and the height by 16, not both by 4098
    (which made a 100 x 5000 picture take 4 GB)."""

    def __init__(self, shape, kernel, mode="reflect", cval=0.0):
        import scipy.fft as sf

        h, w = shape
        kh, kw = kernel.shape
        self.shape = shape
        self.kernel = kernel
        self.mode = check_mode(mode)
        self.cval = np.float32(cval)
        if mode == "wrap":
            self.margins = (0, 0)
            self.padded = (h, w)
        else:
            self.margins = (max(2 * kh, 16), max(2 * kw, 16))
            self.padded = (
                sf.next_fast_len(h + 2 * self.margins[0], real=True),
                sf.next_fast_len(w + 2 * self.margins[1], real=True),
            )
        self.fade = (
            _fade(self.padded[0], h, self.margins[0]),
            _fade(self.padded[1], w, self.margins[1]),
        )
        # The PSF laid out so that circular convolution has scipy.ndimage.convolve's anchor.
        embedded = np.zeros(self.padded, np.float32)
        embedded[:kh, :kw] = kernel
        embedded = np.roll(embedded, (-(kh // 2), -(kw // 2)), axis=(0, 1))
        self.otf = sf.rfft2(embedded, workers=current().threads)
        # A PSF symmetric under both mirrorings blurs a reflected margin exactly as scipy's
        # reflect mode does, so the reflected margin is consistent data; otherwise it is not.
        self.mirror_symmetric = bool(np.allclose(kernel, kernel[::-1, :], rtol=0, atol=1e-12)
                                     and np.allclose(kernel, kernel[:, ::-1], rtol=0, atol=1e-12))
        self.consistent = mode == "wrap" or (mode in ("reflect", "mirror") and self.mirror_symmetric)

    def extend(self, channel):
        """Extend one channel to the padded size by the mode, fading the far margin to its
        mean (``cval`` for ``constant``)."""
        h, w = self.shape
        my, mx = self.margins
        ph, pw = self.padded
        ext = pad(np.asarray(channel, np.float32), (my, mx), (ph - h - my, pw - w - mx), self.mode, float(self.cval))
        if my == mx == 0:
            return ext
        target = self.cval if self.mode == "constant" else np.float32(channel.mean())
        ext -= target
        ext *= self.fade[0][:, None]
        ext *= self.fade[1][None, :]
        ext += target
        return ext

    def crop(self, ext):
        h, w = self.shape
        my, mx = self.margins
        return ext[my : my + h, mx : mx + w]

    def gradient_energy(self):
        """Transfer function of the discrete gradient energy, on the rfft grid (float32)."""
        fy = np.fft.fftfreq(self.padded[0]).astype(np.float32)[:, None]
        fx = np.fft.rfftfreq(self.padded[1]).astype(np.float32)[None, :]
        return 4 * np.sin(np.pi * fy) ** 2 + 4 * np.sin(np.pi * fx) ** 2


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
