"""Parsing text: matrices written as text, numbers and fractions, kernel specs and preset parameters.

Text matrices (``.txt``, ``.csv``, ``.kernel`` files and inline matrices) have one
row per line (inline: rows separated by ``;``, which is also accepted in files);
values separated by whitespace and/or commas; ``#`` starts a comment; blank lines
are ignored. Values are decimal numbers (``-0.5``, ``1e-3``) or simple fractions
(``1/16``, ``-3/8``). Nothing is ever evaluated.

Examples
--------
>>> parse_matrix_text("1/4 1/2 1/4").tolist()
[[0.25, 0.5, 0.25]]
>>> _split_spec("Gaussian: sigma=2")
('gaussian', {'sigma': '2'}, 'gaussian:sigma=2')
>>> parse_imagemagick_kernel("2x3: 1,2, 3,4, 5,6").tolist()
[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]
"""

from __future__ import annotations

import math
import re
from types import MappingProxyType

import numpy as np

from imgconv.errors import KernelError
from imgconv.kernels.model import MAX_KERNEL_ELEMENTS, MAX_KERNEL_SIDE

_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_NUMBER_RE = re.compile(_NUMBER, re.ASCII)
_FRACTION_RE = re.compile(rf"({_NUMBER})/({_NUMBER})", re.ASCII)
_NONFINITE_RE = re.compile(r"[+-]?(?:nan|inf|infinity)", re.IGNORECASE)
_PLAIN_ROW_RE = re.compile(r"[0-9eE.+\-\s,]*", re.ASCII)


def _parse_number(token):
    """Parse one matrix token: a decimal number or a simple fraction. Raise ValueError with a reason."""
    if _NUMBER_RE.fullmatch(token):
        value = float(token)
    else:
        frac = _FRACTION_RE.fullmatch(token)
        if frac is None:
            if _NONFINITE_RE.fullmatch(token):
                raise ValueError(f"{token!r} is not allowed (values must be finite)")
            raise ValueError(f"{token!r} is not a number")
        num, den = float(frac.group(1)), float(frac.group(2))
        if den == 0:
            raise ValueError(f"division by zero in {token!r}")
        with np.errstate(over="ignore", under="ignore"):
            value = num / den if math.isfinite(num) and math.isfinite(den) else math.inf
    if not math.isfinite(value):
        raise ValueError(f"{token!r} is out of range")
    return value


# The line boundaries of str.splitlines ("\r\n" counts once).  A plain character class:
# an alternation with "\r\n" made the scan 2.5 times slower.
_LINE_BREAK_RE = re.compile("[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")


def _split_lines(text):
    """Yield ``(line, end)`` for the lines of ``text.splitlines()``, one at a time.

    ``end`` is where the line's break ends (``len(text)`` for a last line without
    one), so ``end < len(text)`` tells that more lines follow.  Unlike
    ``splitlines`` no list of all the lines is built.
    """
    start, crlf = 0, -1
    for match in _LINE_BREAK_RE.finditer(text):
        i = match.start()
        if i == crlf:  # the "\n" of "\r\n"
            start = i + 1
            continue
        crlf = i + 1 if text.startswith("\r\n", i) else -1
        yield text[start:i], i + (2 if crlf > 0 else 1)
        start = i + 1
    if start < len(text):
        yield text[start:], len(text)


def _split_rows(text):
    """Yield the pieces of ``text.split(";")`` one at a time."""
    start = 0
    while (stop := text.find(";", start)) >= 0:
        yield text[start:stop]
        start = stop + 1
    yield text[start:]


def parse_matrix_text(text, source=None) -> np.ndarray:
    """Parse a kernel matrix written as text.

    Rows are lines (or separated by ``;``); values are separated by
    whitespace and/or commas; ``#`` starts a comment; blank lines are ignored.
    Values are decimal numbers or simple fractions such as ``1/16``.

    Parameters
    ----------
    text : str
        The text of a ``.txt``/``.csv``/``.kernel`` file or an inline matrix.
    source : str or path, optional
        Where the text came from; set as the ``path`` of any error.

    Returns
    -------
    ndarray
        The matrix, float64, shape ``(rows, columns)``.

    Raises
    ------
    KernelError
        Empty text, rows of different lengths (naming the line), a token that
        is not a number (quoted), NaN/Inf, a zero denominator, or a matrix
        larger than the kernel bounds.

    Examples
    --------
    >>> parse_matrix_text("1/16 1/8 1/16  # top\\n1/8 1/4 1/8\\n1/16 1/8 1/16").sum()
    np.float64(1.0)
    >>> parse_matrix_text("0,-1,0; -1,5,-1; 0,-1,0").shape
    (3, 3)
    """
    if not isinstance(text, str):
        raise KernelError(f"kernel text must be a string (got {type(text).__name__})", path=source)
    text = text.removeprefix("\ufeff")
    multiline = None
    rows = []
    width = None
    width_where = None
    count = 0
    # Lines, rows and tokens are split lazily and a row at most MAX_KERNEL_SIDE + 1 ways,
    # so a huge file is refused at its first oversized row with bounded memory.
    for line_no, (line, end) in enumerate(_split_lines(text), 1):
        if multiline is None:  # known from the first line: does another follow?
            multiline = end < len(text)
        content = line.split("#", 1)[0]
        for part in _split_rows(content):
            tokens = part.replace(",", " ").split(maxsplit=MAX_KERNEL_SIDE)
            if not tokens:
                continue
            where = f"line {line_no}" if multiline else f"row {len(rows) + 1}"
            count += len(tokens)
            if len(rows) >= MAX_KERNEL_SIDE or len(tokens) > MAX_KERNEL_SIDE or count > MAX_KERNEL_ELEMENTS:
                raise KernelError(
                    f"kernel too large (more than {MAX_KERNEL_SIDE} rows or columns or {MAX_KERNEL_ELEMENTS} elements)",
                    path=source,
                )
            values = None
            if _PLAIN_ROW_RE.fullmatch(part):  # fast path: digits, signs, points, exponents only
                try:
                    values = np.array(tokens, dtype=np.float64)
                except ValueError:
                    values = None
                if values is not None and not np.isfinite(values).all():
                    values = None
            if values is None:  # fractions, or an error to report token by token
                values = []
                for token in tokens:
                    try:
                        values.append(_parse_number(token))
                    except ValueError as exc:
                        raise KernelError(f"{where}: {exc}", path=source) from None
            if width is None:
                width, width_where = len(values), where
            elif len(values) != width:
                raise KernelError(
                    f"{where} has {len(values)} values but {width_where} has {width} (rows must be equally long)",
                    path=source,
                )
            rows.append(values)
    if not rows:
        raise KernelError("empty kernel: no numbers found", path=source)
    return np.array(rows, dtype=np.float64)


# ImageMagick's kernel geometry "WxH[+X+Y]:" (bounded digits: no backtracking on long specs)
_IM_GEOMETRY_RE = re.compile(r"\s*(\d{1,6})\s*[xX]\s*(\d{1,6})\s*([+-]\d{1,6}[+-]\d{1,6})?\s*:", re.ASCII)


def parse_imagemagick_kernel(text):
    """ImageMagick's kernel string ``WxH: v,v,...`` (values row-major) as a matrix, or None
    when ``text`` does not start with ``WxH:``.

    Values are separated by commas and/or spaces; decimals and simple fractions. Raises
    :class:`KernelError` for a wrong number of values, a bad value, or an origin ``+X+Y``
    (imgconv anchors every kernel at ``(h // 2, w // 2)``).
    """
    match = _IM_GEOMETRY_RE.match(text)
    if match is None:
        return None
    w, h = int(match.group(1)), int(match.group(2))
    label = f"{w}x{h}:"
    if match.group(3):
        raise KernelError(f"{label} an origin ({match.group(3)}) is not supported: imgconv anchors a kernel "
                          "at its centre (h // 2, w // 2); pad the kernel with zeros to move it")
    if w < 1 or h < 1:
        raise KernelError(f"{label} a kernel needs at least one row and one column")
    _check_bounds(h, w, label)
    tokens = text[match.end():].replace(",", " ").split(maxsplit=w * h)
    if len(tokens) != w * h:
        got = f"more than {w * h}" if len(tokens) > w * h else str(len(tokens))
        raise KernelError(f"{label} needs {w * h} values ({w} x {h}, row by row), got {got}")
    try:
        values = [_parse_number(t) for t in tokens]
    except ValueError as exc:
        raise KernelError(f"{label} {exc}") from None
    return np.array(values, dtype=np.float64).reshape(h, w)


def _check_bounds(rows, cols, label):
    if rows > MAX_KERNEL_SIDE or cols > MAX_KERNEL_SIDE or rows * cols > MAX_KERNEL_ELEMENTS:
        raise KernelError(f"{label} kernel too large (more than {MAX_KERNEL_SIDE} rows or columns "
                          f"or {MAX_KERNEL_ELEMENTS} elements)")


def spec_notes(spec):
    """Remarks on a kernel spec that is valid but probably not what was meant.

    A flat inline list whose length is a square >= 9 is one row (as written), while
    ImageMagick would read it as a square matrix.

    Examples
    --------
    >>> spec_notes("1,2,1")
    []
    >>> print(spec_notes("1,2,3,4,5,6,7,8,9")[0])
    kernel '1,2,3,4,5,6,7,8,9' is one row of 9 values (1x9); for a 3x3 matrix write '3x3: 1,2,3,4,5,6,7,8,9' \
(ImageMagick's form) or separate the rows with ';'
    """
    if not isinstance(spec, str) or not _looks_like_inline_matrix(spec) or any(c in spec for c in ";\n\r"):
        return []
    text = spec.split("#", 1)[0].strip()
    count = len(text.replace(",", " ").split())
    side = math.isqrt(count)
    if count < 9 or side * side != count:
        return []
    shown = text if len(text) <= 40 else text[:37] + "..."
    return [f"kernel {shown!r} is one row of {count} values (1x{count}); for a {side}x{side} matrix write "
            f"'{side}x{side}: {shown}' (ImageMagick's form) or separate the rows with ';'"]


def _split_spec(spec):
    """``"gaussian: sigma=2, size=9"`` -> ``("gaussian", {"sigma": "2", "size": "9"}, canonical name)``.

    A bare number after a value continues it: ``sigma=1,1,3`` gives ``{"sigma": "1,1,3"}``
    (one value per axis).
    """
    base, sep, rest = spec.partition(":")
    base = base.strip().lower()
    params = {}
    if sep:
        if not rest.strip():
            raise KernelError(f"{base}: empty parameter list after ':' (expected key=value,...)")
        for item in rest.split(","):
            key, eq, value = item.partition("=")
            key, value = key.strip().lower(), value.strip()
            if not eq and params and _NUMBER_RE.fullmatch(key):  # another value of the last key
                last = next(reversed(params))
                params[last] += "," + key
                continue
            if not eq or not key or not value:
                raise KernelError(f"{base}: expected key=value in parameters (got {item.strip()!r})")
            if key in params:
                raise KernelError(f"{base}: parameter {key!r} given twice")
            params[key] = value
    name = base + (":" + ",".join(f"{k}={v}" for k, v in params.items()) if params else "")
    return base, params, name


# Only matrix characters, at least one digit.  Two linear checks: a single pattern
# ``[...]*\d[...]*`` backtracks polynomially (a 40 kB spec took 30 s to refuse).
_INLINE_CHARS_RE = re.compile(r"[\d\s.,;/+\-eE#]*")
_DIGIT_RE = re.compile(r"\d")


def _looks_like_inline_matrix(text):
    """Whether a spec holds only matrix characters (digits, separators, signs, ``#``) and a digit."""
    return bool(_INLINE_CHARS_RE.fullmatch(text) and _DIGIT_RE.search(text))


def _number_parameter(preset, key, raw):
    """A finite decimal number (no fractions, no ``nan``/``inf``)."""
    try:
        if not _NUMBER_RE.fullmatch(raw):
            raise ValueError
        value = float(raw)
    except ValueError:
        raise KernelError(f"{preset}: {key} must be a number (got {raw!r})") from None
    if not math.isfinite(value):
        raise KernelError(f"{preset}: {key} must be finite (got {raw!r})")
    return value


def _positive_parameter(preset, key, raw):
    value = _number_parameter(preset, key, raw)
    if value <= 0:
        raise KernelError(f"{preset}: {key} must be > 0 (got {raw})")
    return value


def _non_negative_parameter(preset, key, raw):
    value = _number_parameter(preset, key, raw)
    if value < 0:
        raise KernelError(f"{preset}: {key} must be >= 0 (got {raw})")
    return value


def _size_parameter(preset, key, raw, odd):
    """A whole number from 1 to ``MAX_KERNEL_SIDE``; odd when ``odd``."""
    value = _number_parameter(preset, key, raw)
    if not value.is_integer():
        raise KernelError(f"{preset}: {key} must be a whole number (got {raw})")
    if value < 1:
        raise KernelError(f"{preset}: {key} must be >= 1 (got {raw})")
    if odd and value % 2 == 0:
        raise KernelError(f"{preset}: {key} must be odd (got {raw})")
    if value > MAX_KERNEL_SIDE:
        raise KernelError(f"{preset}: kernel too large ({key}={raw}; at most {MAX_KERNEL_SIDE} rows or columns)")
    return int(value)


def _odd_size_parameter(preset, key, raw):
    return _size_parameter(preset, key, raw, odd=True)


def _any_size_parameter(preset, key, raw):
    return _size_parameter(preset, key, raw, odd=False)


_PARAMETER_PARSERS = MappingProxyType(
    {
        "number": _number_parameter,
        "positive": _positive_parameter,
        "non_negative": _non_negative_parameter,
        "odd_size": _odd_size_parameter,
        "any_size": _any_size_parameter,
    }
)


def parse_parameter(kind, preset, key, raw):
    """Parse the text ``raw`` of preset parameter ``key`` as a value of ``kind``.

    The kinds: ``number`` (finite decimal), ``positive``, ``non_negative``,
    ``odd_size`` and ``any_size`` (whole numbers from 1 to ``MAX_KERNEL_SIDE``).

    Examples
    --------
    >>> parse_parameter("odd_size", "gaussian", "size", "9")
    9
    >>> parse_parameter("positive", "gaussian", "sigma", "-1")
    Traceback (most recent call last):
    ...
    imgconv.errors.KernelError: gaussian: sigma must be > 0 (got -1)
    """
    return _PARAMETER_PARSERS[kind](preset, key, raw)
