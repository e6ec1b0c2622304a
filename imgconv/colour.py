"""sRGB and linear light: the exact IEC 61966-2-1 piecewise curves.

8- and 16-bit pictures hold sRGB-encoded values; averaging them (a blur) averages the
encoded numbers, not the light. ``--linear`` decodes with :func:`srgb_to_linear`,
filters, and encodes back with :func:`linear_to_srgb`. Both curves are odd functions
(``f(-v) = -f(v)``), so signed results (an edge kernel's) survive the round trip, and
values above 1 follow the same formula.

Examples
--------
>>> round(float(linear_to_srgb(0.5)) * 255, 2)   # half the light of white
187.52
>>> round(float(srgb_to_linear(linear_to_srgb(0.25))), 6)
0.25
"""
import numpy as np

#: The curve's constants (IEC 61966-2-1): threshold of the encoded value, of the linear
#: value, the slope of the linear segment, the offset and the exponent of the power segment.
ENCODED_THRESHOLD = 0.04045
LINEAR_THRESHOLD = 0.0031308
SLOPE = 12.92
OFFSET = 0.055
GAMMA = 2.4


def srgb_to_linear(values):
    """Decode sRGB values (0..1) to linear light, float32.

    Examples
    --------
    >>> [round(float(v), 6) for v in srgb_to_linear([0.0, 0.04045, 1.0])]
    [0.0, 0.003131, 1.0]
    """
    v = np.asarray(values, np.float64)
    a = np.abs(v)
    out = np.where(a <= ENCODED_THRESHOLD, a / SLOPE, ((a + OFFSET) / (1 + OFFSET)) ** GAMMA)
    return np.copysign(out, v).astype(np.float32)


def linear_to_srgb(values):
    """Encode linear light (0..1) to sRGB values, float32.

    Examples
    --------
    >>> [round(float(v), 5) for v in linear_to_srgb([0.0, 0.0031308, 1.0])]
    [0.0, 0.04045, 1.0]
    """
    v = np.asarray(values, np.float64)
    a = np.abs(v)
    out = np.where(a <= LINEAR_THRESHOLD, a * SLOPE, (1 + OFFSET) * a ** (1 / GAMMA) - OFFSET)
    return np.copysign(out, v).astype(np.float32)
