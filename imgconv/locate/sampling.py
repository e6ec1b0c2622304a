"""Sampling a template between its pixels: cubic convolution and bilinear samples (edges
clamped, as Pillow's affine transforms), and a Gaussian filter as a matrix.

Examples
--------
>>> import numpy as np
>>> planes = np.arange(12.0).reshape(1, 3, 4)
>>> bilinear(planes, np.array([0.5]), np.array([1.5])).tolist()
[[3.5]]
>>> float(cubic(planes, np.array([1.0]), np.array([2.0]))[0, 0])
6.0
"""
import numpy as np


def gaussian_matrix(n, sigma):
    """(n, n) matrix of a Gaussian filter (truncated at 3 sigma, borders: nearest).

    ``G @ x`` equals ``scipy.ndimage.gaussian_filter1d(x, sigma, mode="nearest",
    truncate=3.0)`` (without importing ``scipy.ndimage``).

    Examples
    --------
    >>> from scipy import ndimage
    >>> x = np.random.default_rng(0).random(20)
    >>> ref = ndimage.gaussian_filter1d(x, 1.7, mode="nearest", truncate=3.0)
    >>> bool(np.abs(gaussian_matrix(20, 1.7) @ x - ref).max() < 1e-12)
    True
    """
    if sigma <= 0:
        return np.eye(n)
    radius = int(3.0 * sigma + 0.5)
    offsets = np.arange(-radius, radius + 1)
    taps = np.exp(-0.5 * (offsets / sigma) ** 2)
    taps /= taps.sum()
    rows = np.repeat(np.arange(n), len(offsets))
    cols = np.clip(np.arange(n)[:, None] + offsets[None, :], 0, n - 1).ravel()
    matrix = np.zeros((n, n))
    np.add.at(matrix, (rows, cols), np.tile(taps, n))
    return matrix


def cubic(planes, rows, cols):
    """Cubic-convolution samples (a = -1, edges clamped: Pillow's affine BICUBIC) of
    (C, h, w) planes at float ``rows, cols`` of any shape; returns (C,) + that shape."""
    C, h, w = planes.shape
    r0, c0 = np.floor(rows), np.floor(cols)
    fr, fc = rows - r0, cols - c0
    r0, c0 = r0.astype(np.intp), c0.astype(np.intp)
    flat = planes.reshape(C, -1).astype(np.float64)
    out = np.zeros((C,) + rows.shape)
    wr = cubic_weights(fr)
    wc = cubic_weights(fc)
    for i in range(4):
        ri = np.clip(r0 + (i - 1), 0, h - 1) * w
        for j in range(4):
            cj = np.clip(c0 + (j - 1), 0, w - 1)
            out += (wr[i] * wc[j]) * flat[:, ri + cj]
    return out


def cubic_weights(t):
    """The four weights of cubic convolution (a = -1) for offsets -1, 0, 1, 2 from the floor."""
    def near(x):   # |x| <= 1: (a + 2)|x|^3 - (a + 3)|x|^2 + 1
        return (x - 2) * x * x + 1

    def far(x):    # 1 < |x| < 2: a|x|^3 - 5a|x|^2 + 8a|x| - 4a
        return ((-x + 5) * x - 8) * x + 4

    return (far(1 + t), near(t), near(1 - t), far(2 - t))


def bilinear(planes, rows, cols):
    """Bilinear samples (edges clamped) of (C, h, w) planes; returns (C,) + rows.shape."""
    C, h, w = planes.shape
    r0, c0 = np.floor(rows), np.floor(cols)
    fr, fc = rows - r0, cols - c0
    r0, c0 = r0.astype(np.intp), c0.astype(np.intp)
    flat = planes.reshape(C, -1).astype(np.float64)
    out = np.zeros((C,) + rows.shape)
    for i, wr in ((0, 1 - fr), (1, fr)):
        ri = np.clip(r0 + i, 0, h - 1) * w
        for j, wc in ((0, 1 - fc), (1, fc)):
            out += (wr * wc) * flat[:, ri + np.clip(c0 + j, 0, w - 1)]
    return out
