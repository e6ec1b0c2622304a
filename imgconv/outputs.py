"""Getting a float result ready for its output file, with notes: what the writer would do
silently is done here, visibly.

* missing pixels (NaN) in an integer output become ``cval`` (the writer would make them 0);
* a signed result that an integer output clips (more than :data:`CLIP_NOTE_FRACTION` of its
  values below 0 or above 1) gets a note with the fractions and the ways to keep them;
* an RGBA (grey+alpha) result bound for a format without alpha (JPEG, BMP) is composited
  over the background instead of losing its alpha and showing the hidden colours.

Examples
--------
>>> import numpy as np
>>> notes = []
>>> out = finish_result(np.array([[[0.0, 0.0, 0.0, 0.5]]]), has_alpha=True, extension=".jpg", notes=notes)
>>> out.tolist(), notes[0]
([[[0.5, 0.5, 0.5]]], 'JPEG has no alpha: composited over #ffffff (--background)')
"""
import numpy as np

from imgconv.alpha import WHITE, composite, keeps_alpha

#: A note when an integer output clips more than this fraction of a result's values.
CLIP_NOTE_FRACTION = 0.01
#: Values this far outside [0, 1] are not counted as clipped (float rounding, well under a 16-bit level).
CLIP_TOLERANCE = 1e-5
#: What ``imgconv filter`` suggests for a clipped signed result.
FILTER_FIXES = "--offset 0.5 (zero at mid grey), --scale S, --abs or --depth float"
_FORMAT_EXTENSIONS = {"JPEG": ".jpg", "MPO": ".jpg", "TIFF": ".tif"}
# The depths each format holds (as imgconv.imageio.write_image; only the default matters here).
_DEPTHS = {".png": (8, 16), ".tif": (8, 16, "float"), ".tiff": (8, 16, "float"), ".npy": (8, 16, "float")}


def output_extension(dest, format=None, source_format=None):
    """The extension (``".png"``) naming the output's format: ``format``, else ``dest``'s
    suffix, else (for ``"-"``) the source's format.

    Examples
    --------
    >>> output_extension("a/b.JPG"), output_extension("-", source_format="JPEG")
    ('.jpg', '.jpg')
    """
    import os

    if format:
        key = str(format).lower().lstrip(".")
        return _FORMAT_EXTENSIONS.get(key.upper(), "." + key)
    if str(dest) != "-":
        return os.path.splitext(str(dest))[1].lower()
    if source_format:
        return _FORMAT_EXTENSIONS.get(source_format.upper(), "." + source_format.lower())
    return ""


def output_depth(extension, depth=None, source_depth=8, channels=3):
    """8, 16 or ``"float"``: the depth ``write_image`` writes (its default when ``depth`` is
    None: the source's precision as far as the format holds it).

    Examples
    --------
    >>> output_depth(".png", None, 16), output_depth(".jpg", None, 16), output_depth(".tif", None, 32, 3)
    (16, 8, 16)
    """
    if depth is not None:
        return depth

    def holds(d):
        if d not in _DEPTHS.get(extension, (8,)):
            return False
        if extension in (".tif", ".tiff"):
            return channels == 1 if d == "float" else (d != 16 or channels != 2)
        return True

    candidates = {16: (16, 8), 32: ("float", 16, 8)}.get(source_depth, (8,))
    return next(d for d in candidates if holds(d))


def clipped_fractions(values, tolerance=CLIP_TOLERANCE):
    """The fractions of the finite ``values`` below 0 and above 1 (beyond ``tolerance``, the
    float rounding of an FFT): what an integer output clips to 0 and to full scale.

    Examples
    --------
    >>> clipped_fractions(np.array([-0.5, 0.0, 0.5, 1.5]))
    (0.25, 0.25)
    """
    below, above, finite = clipped_counts(values, tolerance)
    n = max(finite, 1)
    return float(below) / n, float(above) / n


class Finishing:
    """:func:`finish_result` for any rows of a result, one strip after another: each strip is
    finished element by element (NaN fill, compositing) and its clipped values counted, so the
    notes at the end (:meth:`notes`) are those of the whole result.

    Examples
    --------
    >>> finishing = Finishing(has_alpha=False, extension=".png", channels=1)
    >>> [finishing.rows(np.array(strip)).tolist() for strip in ([-0.5, 0.5], [1.0, 2.0])]
    [[-0.5, 0.5], [1.0, 2.0]]
    >>> finishing.notes()[0][:42]
    'the 8-bit output clips 50.0% of the values'
    """

    def __init__(self, *, has_alpha, extension, channels, depth=None, source_depth=8, background=WHITE, cval=0.0,
                 fixes=FILTER_FIXES, cause="a signed result?"):
        #: whether the result's last channel is alpha (a result of 2 or 4 ``channels``)
        self.alpha = bool(has_alpha) and channels in (2, 4)
        self.composited = self.alpha and not keeps_alpha(extension)
        #: the channels of the finished rows
        self.channels = channels - (1 if self.composited else 0)
        self.bits = output_depth(extension, depth, source_depth, self.channels)
        self.extension, self.background, self.cval, self.fixes, self.cause = extension, background, cval, fixes, cause
        self.below = self.above = self.finite = 0

    def rows(self, result):
        """Rows of the result (float32, H x W [x C]) ready for ``write_image``."""
        result = np.asarray(result, np.float32)
        if self.bits == "float":
            return result
        if result.size and np.isnan(result.min()):  # NaN shows in the minimum
            result = np.where(np.isnan(result), np.float32(self.cval), result)
        below, above, finite = clipped_counts(result[..., :-1] if self.alpha else result)
        self.below, self.above, self.finite = self.below + below, self.above + above, self.finite + finite
        return composite(result, self.background) if self.composited else result

    def notes(self):
        """The notes on the whole result: the clipping note, the compositing note."""
        notes = []
        if self.bits == "float":
            return notes
        n = max(self.finite, 1)
        below, above = self.below / n, self.above / n
        if below + above > CLIP_NOTE_FRACTION:
            parts = [f"{_percent(f)} {where}" for f, where in ((below, "below 0"), (above, "above 1")) if f]
            notes.append(f"the {self.bits}-bit output clips {_percent(below + above)} of the values "
                         f"({', '.join(parts)}; {self.cause}): keep them with {self.fixes}")
        if self.composited:
            name = self.extension.lstrip(".").upper().replace("JPG", "JPEG")
            colour = "#" + "".join(f"{round(255 * c):02x}" for c in self.background)
            notes.append(f"{name} has no alpha: composited over {colour} (--background)")
        return notes


def clipped_counts(values, tolerance=CLIP_TOLERANCE):
    """``(below, above, finite)``: how many of the finite ``values`` lie below 0 and above 1
    (beyond ``tolerance``), and how many are finite.

    Examples
    --------
    >>> clipped_counts(np.array([-0.5, 0.0, np.nan, 1.5]))
    (1, 1, 3)
    """
    v = np.asarray(values)
    if v.size:
        low, high = v.min(), v.max()  # NaN shows in both; an infinity in one
        if np.isfinite(low) and np.isfinite(high):  # the common case: two reductions, no copy
            below = int(np.count_nonzero(v < -tolerance)) if low < -tolerance else 0
            above = int(np.count_nonzero(v > 1 + tolerance)) if high > 1 + tolerance else 0
            return below, above, int(v.size)
    finite = np.isfinite(v)
    v = np.where(finite, v, 0.5)
    return int((v < -tolerance).sum()), int((v > 1 + tolerance).sum()), int(finite.sum())


def finish_result(result, *, has_alpha, extension, depth=None, source_depth=8, background=WHITE, cval=0.0,
                  fixes=FILTER_FIXES, cause="a signed result?", notes=None):
    """``result`` ready for ``write_image`` to an ``extension`` file, with notes appended to ``notes``.

    ``depth`` and ``source_depth`` are as ``write_image`` takes them (``source_depth`` is the
    source Picture's); ``fixes`` is what the clipping note suggests, ``cause`` its likely cause.
    (:class:`Finishing` does the same strip by strip.)
    """
    notes = [] if notes is None else notes
    result = np.asarray(result, np.float32)
    channels = 1 if result.ndim == 2 else result.shape[-1]
    finishing = Finishing(has_alpha=has_alpha, extension=extension, channels=channels, depth=depth,
                          source_depth=source_depth, background=background, cval=cval, fixes=fixes, cause=cause)
    result = finishing.rows(result)
    notes.extend(finishing.notes())
    return result


def _percent(fraction):
    return f"{100 * fraction:.1f}%" if fraction >= 0.001 else f"{100 * fraction:.2g}%"
