"""What :func:`imgconv.locate.search` is given, checked and brought to one form.

The image becomes (C, H, W) float32 with each channel's mean subtracted (scaled near 1
when its values are extreme: r is scale-free), the template (C, h, w) float64 scaled near
1, the mask a boolean (h, w) array or None.

Examples
--------
>>> import numpy as np
>>> image, template, mask = prepare(np.arange(12.0).reshape(3, 4), [[0, 1], [2, 5]], None)
>>> image.shape, image.dtype.name, template.shape, float(template.max()), mask
((1, 3, 4), 'float32', (1, 2, 2), 1.0, None)
"""
import numpy as np

from imgconv.errors import MatchError


def one_channel(channels):
    """(1, H, W): ITU-R 601-2 luma of 3 channels, else their mean (same dtype)."""
    if channels.shape[0] == 3:
        weights = np.array([0.299, 0.587, 0.114])
    else:
        weights = np.full(channels.shape[0], 1.0 / channels.shape[0])
    out = np.zeros(channels.shape[1:], np.float64)
    for weight, plane in zip(weights, channels):  # (not tensordot: a threaded BLAS gemv)
        out += weight * plane
    return out[None].astype(channels.dtype)


def check_options(max_matches, threshold, min_distance):
    if isinstance(max_matches, bool) or not isinstance(max_matches, (int, np.integer)) or max_matches < 1:
        raise MatchError(f"max_matches must be a positive integer, not {max_matches!r}")
    if not (isinstance(threshold, (int, float, np.number)) and np.isfinite(threshold)):
        raise MatchError(f"threshold must be a finite number, not {threshold!r}")
    if min_distance is not None and not (np.isfinite(min_distance) and min_distance >= 0):
        raise MatchError(f"min_distance must be a number >= 0, not {min_distance!r}")


def channels(array, name):
    values = np.asarray(array)
    if values.dtype == np.bool_:
        values = values.astype(np.uint8)
    if not (np.issubdtype(values.dtype, np.integer) or np.issubdtype(values.dtype, np.floating)):
        raise MatchError(f"the {name} must hold real numbers, not {values.dtype}")
    if values.ndim == 2:
        values = values[None]
    elif values.ndim == 3:
        values = np.moveaxis(values, 2, 0)
    else:
        raise MatchError(f"the {name} must be H x W or H x W x C, not shape {values.shape}")
    if 0 in values.shape:
        raise MatchError(f"the {name} is empty (shape {values.shape})")
    return values


def prepare(image, template, mask):
    """(C, H, W) float32 image minus each channel's mean, (C, h, w) float64 template, bool mask."""
    img = channels(image, "image")
    tmpl = channels(template, "template").astype(np.float64)
    if img.shape[0] != tmpl.shape[0]:
        raise MatchError(f"the image has {img.shape[0]} channel(s) but the template has "
                         f"{tmpl.shape[0]} (convert both to grey, or drop alpha)")
    if not np.isfinite(tmpl).all():
        raise MatchError("the template contains NaN or infinite values")
    # r does not change with the template's scale (nor the image's, below): values near 1
    # keep every square finite
    tmpl = tmpl / (float(np.abs(tmpl).max()) or 1.0)
    h, w = tmpl.shape[1:]
    user = None
    if mask is not None:
        user = np.asarray(mask)
        if user.ndim == 3:
            user = np.any(user != 0, axis=2)
        if user.shape != (h, w):
            raise MatchError(f"the mask ({user.shape[1] if user.ndim == 2 else '?'}x{user.shape[0]}) "
                             f"must be the size of the template ({w}x{h})")
        user = user != 0
    selected = tmpl[:, user] if user is not None else tmpl.reshape(tmpl.shape[0], -1)
    if selected.shape[1] < 2:
        raise MatchError(f"the mask selects {selected.shape[1]} template pixel(s); at least 2 are needed")
    spread = float(np.sum((selected - selected.mean(axis=1, keepdims=True)) ** 2))
    scale = float(np.abs(selected).max()) or 1.0
    if not spread > selected.size * (1e-7 * scale) ** 2:
        raise MatchError(f"the template ({w}x{h}) is flat: it has no variance to correlate "
                         "(every pixel has the same value)")
    C, H, W = img.shape
    out = np.empty((C, H, W), np.float32)
    peak = 0.0
    for c in range(C):
        with np.errstate(over="ignore", invalid="ignore"):  # huge values are refused below
            mean = float(np.mean(img[c], dtype=np.float64))
            if not np.isfinite(mean):
                if not np.isfinite(img[c]).all():
                    raise MatchError("the image contains NaN or infinite values")
                raise MatchError("the image's values are too large to sum")
            if img.dtype.itemsize > 4 and np.issubdtype(img.dtype, np.floating):
                peak = max(peak, float(img[c].max()) - mean, mean - float(img[c].min()))
                if not peak < 1e30:
                    break  # too large for float32: scaled below while converting
            np.subtract(img[c], mean, out=out[c], dtype=np.float64, casting="unsafe")
        peak = max(peak, float(out[c].max()), -float(out[c].min()))
    if not np.isfinite(peak):
        raise MatchError("the image's values are too large to compare")
    if peak >= 1e30:
        scale = 1.0 / peak
        for c in range(C):
            mean = float(np.mean(img[c], dtype=np.float64))
            np.multiply(np.subtract(img[c], mean, dtype=np.float64), scale, out=out[c],
                        casting="unsafe")
    elif not 1e-12 < peak < 1e12:  # r is scale-free: keep squares and sums well inside float32
        out *= np.float32(1.0 / peak) if peak > 0 else np.float32(1.0)
    return out, tmpl, user
