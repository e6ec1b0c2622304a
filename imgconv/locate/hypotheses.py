"""The search space of :func:`imgconv.locate`: the angle and scale axes.

A *hypothesis* is one (angle, scale) pair.  An :class:`Axis` holds the range the
user asked for and the step of its grid at every pyramid level (``warp`` turns
hypotheses into rotated and scaled templates).

Angles are degrees counter-clockwise as seen on screen (rows grow downwards),
like ``motion:angle``; a scale is the template's size in the image over its own.
Level ``L`` of the pyramid has pixels ``f = 2**L`` times larger; the steps there
are ``f`` times the full-resolution ones.
"""
import math

import numpy as np

from imgconv.errors import MatchError

#: Largest angle-grid or scale-grid length at full resolution, and the largest number of
#: hypotheses at the coarsest level searched: beyond these the search would take hours.
MAX_AXIS_STEPS = 3600
MAX_HYPOTHESES = 100_000
#: Bounds on the numbers accepted for angles (degrees) and scales.
ANGLE_LIMIT = 360.0
SCALE_LIMITS = (0.01, 100.0)


class Axis:
    """One searched parameter (angle in degrees, or scale) and its grid at each level.

    Parameters
    ----------
    kind : {"angle", "scale"}
    low, high : float
        The range searched, inclusive (``low == high``: a fixed value).
    step : float or None
        The full-resolution step given by the user (arithmetic), or None: the
        automatic step ``auto`` (angle: arithmetic in degrees; scale: geometric,
        the relative factor ``1 + auto``).
    auto : float
        The step that moves the template's farthest corner by one pixel at full
        resolution (degrees for angles, a relative change for scales).

    At level ``L`` (pixels ``f = 2**L`` times larger) the step is ``f`` times the
    full-resolution one: the corner moves one level pixel per step there too.

    Examples
    --------
    >>> a = Axis("angle", -180, 180, None, 1.0)
    >>> len(a.grid(0)), len(a.grid(3)), a.periodic
    (360, 48, True)
    >>> s = Axis("scale", 1.0, 1.0, None, 0.02)
    >>> s.grid(2), s.fixed
    ([1.0], True)
    """

    def __init__(self, kind, low, high, step, auto):
        self.kind, self.low, self.high = kind, float(low), float(high)
        self.user_step = None if step is None else float(step)
        self.auto = float(auto)
        self.periodic = kind == "angle" and self.high - self.low >= 360.0 - 1e-9
        self.fixed = self.high == self.low

    def step(self, level):
        """The step at ``level``: degrees (angles), additive (user scale step) or log-scale (auto)."""
        f = 2 ** level
        if self.user_step is not None:
            return self.user_step * f
        if self.kind == "angle":
            return self.auto * f
        return math.log1p(self.auto * f)

    def _geometric(self):
        return self.kind == "scale" and self.user_step is None

    def grid(self, level):
        """The values searched exhaustively at ``level``, ``low`` to ``high``."""
        if self.fixed:
            return [self.low]
        step = self.step(level)
        if self.periodic:
            count = self.count(level)
            return [self.low + 360.0 * k / count for k in range(count)]
        span = math.log(self.high / self.low) if self._geometric() else self.high - self.low
        count = max(2, math.ceil(span / step - 1e-9) + 1)
        points = np.linspace(0.0, span, count)
        values = self.low * np.exp(points) if self._geometric() else self.low + points
        values[-1] = self.high
        return [float(v) for v in values]

    def count(self, level):
        """Length of :meth:`grid` without building it."""
        if self.fixed:
            return 1
        step = self.step(level)
        if self.periodic:  # a multiple of 4: quarter turns are on the grid (same outlines)
            return 4 * max(1, math.ceil(360.0 / step / 4 - 1e-9))
        span = math.log(self.high / self.low) if self._geometric() else self.high - self.low
        return max(2, math.ceil(span / step - 1e-9) + 1)

    def around(self, value, level, offsets):
        """``value`` moved by each of ``offsets`` steps of ``level``, kept in range, unique."""
        if self.fixed:
            return [self.low]
        step = self.step(level)
        out = []
        for k in offsets:
            if self._geometric():
                v = value * math.exp(k * step)
            else:
                v = value + k * step
            v = self.clip(v)
            if all(abs(v - u) > 1e-9 for u in out):
                out.append(v)
        return out

    def clip(self, value):
        """The value brought into the searched range (angles: wrapped into (-180, 180] when periodic)."""
        if self.periodic:
            return wrap_angle(value)
        return min(max(value, self.low), self.high)

    def distance(self, a, b, level):
        """|a - b| in steps of ``level`` (angles: around the circle when periodic)."""
        if self.fixed:
            return 0.0
        if self._geometric():
            return abs(math.log(a / b)) / self.step(level)
        d = abs(a - b)
        if self.periodic:
            d = min(d % 360.0, 360.0 - d % 360.0)
        return d / self.step(level)


def wrap_angle(angle):
    """The angle in degrees brought into (-180, 180].

    Examples
    --------
    >>> wrap_angle(190.0), wrap_angle(-180.0), wrap_angle(180.0)
    (-170.0, 180.0, 180.0)
    """
    a = math.fmod(angle, 360.0)
    if a > 180.0:
        a -= 360.0
    elif a <= -180.0:
        a += 360.0
    return a + 0.0


def corner_radius(shape, scale=1.0):
    """Distance (pixels) from the template's centre to its farthest pixel centre, at ``scale``."""
    h, w = shape[:2]
    return scale * 0.5 * math.hypot(h - 1, w - 1)


def make_axes(angles, scales, shape):
    """Validate ``angles`` and ``scales`` (see :func:`imgconv.locate.locate`) and build the axes.

    Raises
    ------
    MatchError
        A value that is not a finite number, out of bounds, a reversed range, a
        non-positive step or too many steps.
    """
    lo, hi, step = _range(scales, "scales", default=1.0)
    check_range("scales", lo, hi, step)
    radius = max(corner_radius(shape, hi), 1.0)
    scale_axis = Axis("scale", lo, hi, step, 1.0 / radius)
    lo, hi, step = _range(angles, "angles", default=0.0)
    check_range("angles", lo, hi, step)
    angle_axis = Axis("angle", lo, hi, step, math.degrees(1.0 / radius))
    for axis in (angle_axis, scale_axis):
        if axis.count(0) > MAX_AXIS_STEPS:
            raise MatchError(f"the {axis.kind}s {axis.low:g}:{axis.high:g} give {axis.count(0)} "
                             f"steps at full resolution; at most {MAX_AXIS_STEPS} (use a larger step)")
    return angle_axis, scale_axis


def check_range(name, low, high, step=None):
    """Refuse a range of ``"angles"`` or ``"scales"`` out of bounds (MatchError, one line).

    Examples
    --------
    >>> check_range("angles", -180, 180, 0.5)
    >>> check_range("angles", 0, 10, 1e-6)
    Traceback (most recent call last):
    ...
    imgconv.errors.MatchError: angles 0:10:1e-06 give 10000001 steps; at most 3600
    """
    values = [low, high] + ([] if step is None else [step])
    if not all(isinstance(v, (int, float, np.number)) and math.isfinite(v) for v in values):
        raise MatchError(f"{name} must be finite numbers, not {values}")
    if high < low:
        raise MatchError(f"{name}: MAX ({high:g}) is below MIN ({low:g})")
    if name == "angles":
        for v in (low, high):
            if not -ANGLE_LIMIT <= v <= ANGLE_LIMIT:
                raise MatchError(f"angles must lie in -360..360 degrees, not {v:g}")
        if high - low > 360.0:
            raise MatchError(f"the angle range {low:g}:{high:g} spans more than 360 degrees")
    else:
        for v in (low, high):
            if not SCALE_LIMITS[0] <= v <= SCALE_LIMITS[1]:
                raise MatchError(f"scales must lie in {SCALE_LIMITS[0]:g}..{SCALE_LIMITS[1]:g}, not {v:g}")
    if step is not None:
        if not step > 0:
            raise MatchError(f"{name}: STEP must be positive, not {step:g}")
        count = int((high - low) / step + 1e-9) + 1
        if count > MAX_AXIS_STEPS:
            raise MatchError(f"{name} {low:g}:{high:g}:{step:g} give {count} steps; "
                             f"at most {MAX_AXIS_STEPS}")


def _range(value, name, default):
    """(low, high, step or None) from None, a number, "full", (low, high) or (low, high, step)."""
    if value is None:
        return (default, default, None)
    if isinstance(value, str):
        if name == "angles" and value.strip().lower() == "full":
            return (-180.0, 180.0, None)
        raise MatchError(f"{name} must be a number or (MIN, MAX[, STEP]), not {value!r}"
                         + (" (or 'full')" if name == "angles" else ""))
    if np.ndim(value) == 0:
        parts = [value]
    else:
        parts = list(value)
    try:
        numbers = [float(p) for p in parts]
    except (TypeError, ValueError):
        raise MatchError(f"{name} must be numbers, not {value!r}") from None
    if not all(math.isfinite(v) for v in numbers):
        raise MatchError(f"{name} must be finite numbers, not {value!r}")
    if len(numbers) == 1:
        return (numbers[0], numbers[0], None)
    if len(numbers) not in (2, 3):
        raise MatchError(f"{name} must be MIN, (MIN, MAX) or (MIN, MAX, STEP), not {len(numbers)} numbers")
    return (numbers[0], numbers[1], numbers[2] if len(numbers) == 3 else None)
