"""Kernels: the :class:`Kernel` model, kernel specs, kernel files and the presets.

A *kernel spec* is what a user passes to ``-k/--kernel``:

- a preset name, optionally with parameters ``name:key=value,key=value``
  (``sobel``, ``gaussian:sigma=2.5``, ``motion:length=15,angle=30``);
- a kernel file, recognised by its extension: ``.txt``, ``.csv``, ``.kernel``
  (text, one row per line), ``.npy`` (a 2-D numeric array) or ``.toml`` (the
  preset format below);
- an inline matrix, rows separated by ``;`` and values by ``,`` or spaces:
  ``"0,-1,0; -1,5,-1; 0,-1,0"``.

Orientation convention
----------------------
Presets are written for **true convolution**, imgconv's default (the kernel is
flipped, exactly as ``scipy.ndimage.convolve`` does). With that convention the
``x`` derivative presets (``sobel``, ``prewitt``, ``scharr`` with
``direction=x``) give a *positive* response where intensity increases to the
right (+x, increasing column), and the ``y`` ones where it increases downwards
(+y, increasing row). Applying them with ``--correlate`` (kernel as written)
reverses those signs. Angles (``motion:angle=``) are in degrees,
counter-clockwise from +x as seen on screen (rows grow downwards).

Text kernel files (``.txt``, ``.csv``, ``.kernel``) and inline matrices
----------------------------------------------------------------------
One row per line (inline: rows separated by ``;``, which is also accepted in
files); values separated by whitespace and/or commas; ``#`` starts a comment;
blank lines are ignored. Values are decimal numbers (``-0.5``, ``1e-3``) or
simple fractions (``1/16``, ``-3/8``). Nothing is ever evaluated.

TOML kernel files (the format of the files in ``presets/``)
-----------------------------------------------------------
::

    description = "Sobel gradient magnitude"   # optional, one line
    combine = "magnitude"     # single | magnitude | sum | max (several kernels)
    scale = 1.0               # optional: multiplies the (combined) result
    offset = 0.0              # optional: then added, fraction of full scale
    normalize = false         # optional: divide each matrix by its sum

    matrix = [[0, -1, 0], [-1, 5, -1], [0, -1, 0]]   # one kernel ...

    [[kernels]]               # ... or several, each with its own matrix
    name = "x"                # optional label (gives presets direction=x|y|both)
    description = "..."       # optional
    matrix = [[1, 0, -1], [2, 0, -2], [1, 0, -1]]

Matrix entries are numbers or strings holding a number or a fraction
(``"1/16"``). Unknown keys are errors. TOML files may be at most
``MAX_TOML_FILE_BYTES`` (1 MiB; other kernel files ``MAX_KERNEL_FILE_BYTES``,
64 MiB): larger kernels belong in ``.npy`` or text files.

Examples
--------
>>> from imgconv.kernels import load_kernel
>>> k = load_kernel("gaussian:sigma=2")
>>> k.matrices[0].shape, k.slug
((13, 13), 'gaussian-sigma2')
>>> load_kernel("0,-1,0; -1,5,-1; 0,-1,0").matrices[0].sum()
np.float64(1.0)
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import tokenize
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import numpy as np

from imgconv.catalog import PARAMETRIC_SUMMARIES
from imgconv.engine.separable import low_rank_factors
from imgconv.errors import KernelError

__all__ = [
    "Kernel",
    "load_kernel",
    "list_presets",
    "describe_kernel",
    "parse_matrix_text",
    "is_separable",
    "KERNEL_EXTENSIONS",
    "MAX_KERNEL_SIDE",
    "MAX_KERNEL_ELEMENTS",
    "MAX_KERNEL_FILE_BYTES",
    "MAX_TOML_FILE_BYTES",
]

#: Largest number of rows or columns a kernel may have.
MAX_KERNEL_SIDE = 4097
#: Largest number of elements of one kernel matrix (2048 x 2048).
MAX_KERNEL_ELEMENTS = 2**22
#: Kernel files larger than this are refused before they are read.
MAX_KERNEL_FILE_BYTES = 64 * 2**20
#: TOML kernel files larger than this are refused before they are parsed: Python's TOML
#: parser reads about 0.5 MB/s and needs ~25x the file size in memory (a 60 MB file took
#: over 2 minutes and 1.6 GB).  1 MiB holds a 255 x 255 matrix of 12-digit decimals;
#: larger kernels belong in .npy or text files.
MAX_TOML_FILE_BYTES = 2**20
#: File extensions recognised as kernel files.
KERNEL_EXTENSIONS = (".txt", ".csv", ".kernel", ".npy", ".toml")

COMBINE_MODES = ("single", "magnitude", "sum", "max")
_TEXT_EXTENSIONS = (".txt", ".csv", ".kernel")
_SEPARABLE_RTOL = 1e-9


# ----------------------------------------------------------------------------
# The Kernel model
# ----------------------------------------------------------------------------


@dataclass(frozen=True, eq=False, repr=False)
class Kernel:
    """One filter: one or more matrices, how their results combine, scale and offset.

    Parameters
    ----------
    name : str
        What the user asked for: ``"sobel"``, ``"gaussian:sigma=2.5"``, a file
        path such as ``"edges.txt"``, ``"inline"`` or ``"array"``.
    matrices : tuple of ndarray
        One or more 2-D float64 arrays (stored read-only). A single 2-D array
        is accepted and wrapped in a tuple.
    combine : str
        How the results of several matrices combine: ``"single"`` (exactly one
        matrix), ``"magnitude"`` (square root of the sum of squares),
        ``"sum"`` or ``"max"`` (element-wise).
    scale : float
        Multiplies the (combined) result.
    offset : float
        Then added; a fraction of full scale (0.5 = mid grey).
    normalize : bool
        Divide each matrix by its sum (when that sum is not ~0) before use;
        see :meth:`normalized`.
    description : str
        One line for people.

    Examples
    --------
    >>> import numpy as np
    >>> k = Kernel("inline", (np.ones((3, 3)),), normalize=True)
    >>> k.normalized().matrices[0][0, 0] == 1 / 9
    np.True_
    """

    name: str
    matrices: tuple
    combine: str = "single"
    scale: float = 1.0
    offset: float = 0.0
    normalize: bool = False
    description: str = ""

    def __post_init__(self):
        mats = self.matrices
        if isinstance(mats, np.ndarray) and mats.ndim == 2:
            mats = (mats,)
        if not isinstance(mats, (tuple, list)) or len(mats) == 0:
            raise KernelError(f"kernel {self.name!r}: matrices must be a non-empty tuple of 2-D arrays")
        fixed = tuple(_as_kernel_matrix(m, f"kernel {self.name!r}") for m in mats)
        if self.combine not in COMBINE_MODES:
            raise KernelError(
                f"kernel {self.name!r}: combine must be one of {', '.join(COMBINE_MODES)} (got {self.combine!r})"
            )
        if self.combine == "single" and len(fixed) != 1:
            raise KernelError(
                f"kernel {self.name!r}: {len(fixed)} matrices need combine = magnitude, sum or max"
            )
        for field in ("scale", "offset"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
                raise KernelError(f"kernel {self.name!r}: {field} must be a number (got {value!r})")
            if not math.isfinite(value):
                raise KernelError(f"kernel {self.name!r}: {field} must be finite (got {value!r})")
            object.__setattr__(self, field, float(value))
        object.__setattr__(self, "matrices", fixed)
        object.__setattr__(self, "normalize", bool(self.normalize))
        object.__setattr__(self, "name", str(self.name))
        object.__setattr__(self, "description", str(self.description))

    @property
    def slug(self) -> str:
        """A filesystem-safe short name for output files.

        ``"gaussian:sigma=2.5"`` gives ``"gaussian-sigma2.5"``, a file
        ``"dir/edges.txt"`` gives ``"edges"``, an inline matrix ``"custom"``.

        Examples
        --------
        >>> load_kernel("motion:length=15,angle=30").slug
        'motion-length15-angle30'
        """
        name = self.name
        if name == "inline":
            return "custom"
        base = name.replace("\\", "/").rsplit("/", 1)[-1]
        suffix = os.path.splitext(base)[1].lower()
        if suffix in KERNEL_EXTENSIONS:
            base = base[: -len(suffix)]
        else:
            base = base.replace(":", "-").replace(",", "-").replace("=", "")
        slug = re.sub(r"[^A-Za-z0-9._+-]+", "_", base).strip("._-")
        slug = re.sub(r"-{2,}", "-", slug)
        return slug or "kernel"

    def normalized(self) -> "Kernel":
        """Return this kernel with each matrix divided by its sum.

        A matrix whose sum is ~0 (``|sum| <= 1e-8 * sum(|k|)``, e.g. an edge
        detector) is left as it is. The result has ``normalize=False``: the
        division has been applied.

        Examples
        --------
        >>> load_kernel("1 2 1").normalized().matrices[0].tolist()
        [[0.25, 0.5, 0.25]]
        """
        out = []
        for m in self.matrices:
            total = float(m.sum())
            if abs(total) > 1e-8 * float(np.abs(m).sum()):
                m = m / total
            out.append(m)
        return dataclasses.replace(self, matrices=tuple(out), normalize=False)

    @property
    def shape(self) -> tuple:
        """``(rows, columns)`` of the largest extent over all matrices."""
        return (max(m.shape[0] for m in self.matrices), max(m.shape[1] for m in self.matrices))

    def __eq__(self, other):
        if not isinstance(other, Kernel):
            return NotImplemented
        return (
            (self.name, self.combine, self.scale, self.offset, self.normalize, self.description)
            == (other.name, other.combine, other.scale, other.offset, other.normalize, other.description)
            and len(self.matrices) == len(other.matrices)
            and all(a.shape == b.shape and np.array_equal(a, b) for a, b in zip(self.matrices, other.matrices))
        )

    def __hash__(self):
        return hash(
            (self.name, self.combine, self.scale, self.offset, self.normalize, self.description)
            + tuple((m.shape, m.tobytes()) for m in self.matrices)
        )

    def __repr__(self):
        shapes = ", ".join(f"{m.shape[1]}x{m.shape[0]}" for m in self.matrices)
        return (
            f"Kernel(name={self.name!r}, matrices=[{shapes}], combine={self.combine!r}, "
            f"scale={self.scale:g}, offset={self.offset:g}, normalize={self.normalize})"
        )


def _count(n):
    """An integer for a message: exact up to 9 digits, else like ``6e+300``."""
    return str(n) if n < 10**9 else f"{float(n):.3g}"


def _check_shape(rows, cols, what, path=None):
    """Raise KernelError when a kernel of ``rows`` x ``cols`` exceeds the bounds."""
    if rows > MAX_KERNEL_SIDE or cols > MAX_KERNEL_SIDE or rows * cols > MAX_KERNEL_ELEMENTS:
        raise KernelError(
            f"{what}: kernel too large ({_count(cols)}x{_count(rows)}; at most {MAX_KERNEL_SIDE} rows or columns "
            f"and {MAX_KERNEL_ELEMENTS} elements)",
            path=path,
        )


def _as_kernel_matrix(value, what, path=None):
    """Validate one matrix: 2-D, non-empty, real numeric, finite, within bounds -> read-only float64."""
    if isinstance(value, np.ndarray):
        arr = value
    else:
        try:
            arr = np.asarray(value)
        except (ValueError, TypeError, OverflowError) as exc:
            raise KernelError(f"{what}: not a rectangular numeric matrix ({exc})", path=path) from None
    if arr.dtype.kind not in "biuf":
        kind = {"c": "complex", "O": "object", "U": "text", "S": "bytes", "V": "structured"}.get(
            arr.dtype.kind, str(arr.dtype)
        )
        raise KernelError(f"{what}: kernel values must be real numbers (got {kind} data)", path=path)
    if arr.ndim != 2:
        raise KernelError(f"{what}: a kernel must be a 2-D matrix (got {arr.ndim}-D, shape {arr.shape})", path=path)
    if arr.size == 0:
        raise KernelError(f"{what}: the kernel is empty (shape {arr.shape})", path=path)
    _check_shape(arr.shape[0], arr.shape[1], what, path)
    with np.errstate(over="ignore", invalid="ignore"):
        arr = np.array(arr, dtype=np.float64, order="C", copy=True)
    if not np.isfinite(arr).all():
        raise KernelError(f"{what}: kernel values must be finite (found NaN or Inf)", path=path)
    arr.setflags(write=False)
    return arr


def is_separable(matrix, rtol=_SEPARABLE_RTOL) -> bool:
    """Whether a matrix is rank 1 (an outer product of a column and a row).

    Decided by SVD: the second singular value is at most ``rtol`` times the
    first. A single row or column, and the all-zero matrix, are separable.

    Examples
    --------
    >>> import numpy as np
    >>> is_separable(np.outer([1, 2, 1], [1, 0, -1])), is_separable(np.eye(3))
    (True, False)
    """
    m = np.asarray(matrix, dtype=np.float64)
    if min(m.shape) <= 1:
        return True
    s = np.linalg.svd(m, compute_uv=False)
    return bool(s[0] == 0 or s[1] <= rtol * s[0])


# ----------------------------------------------------------------------------
# Text matrices (.txt / .csv / .kernel / inline)
# ----------------------------------------------------------------------------

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
    if text.startswith("\ufeff"):
        text = text[1:]
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


# ----------------------------------------------------------------------------
# TOML kernels (preset files and user files)
# ----------------------------------------------------------------------------

_TOML_KEYS = ("description", "matrix", "kernels", "combine", "scale", "offset", "normalize")
_TOML_KERNEL_KEYS = ("matrix", "name", "description")


def _toml_matrix(value, where, path):
    """Validate a TOML matrix (list of equally long lists of numbers or fraction strings)."""
    if not isinstance(value, list) or not value:
        raise KernelError(f"{where} must be a non-empty list of rows (got {_toml_type(value)})", path=path)
    if not all(isinstance(row, list) for row in value):
        raise KernelError(f"{where} must be a list of rows, each a list of numbers", path=path)
    _check_shape(len(value), max(len(row) for row in value), where, path)
    width = len(value[0])
    rows = []
    for i, row in enumerate(value, 1):
        if len(row) != width:
            raise KernelError(
                f"{where} row {i} has {len(row)} values but row 1 has {width} (rows must be equally long)", path=path
            )
        out = []
        for j, item in enumerate(row, 1):
            if isinstance(item, bool):
                raise KernelError(f"{where} row {i} value {j}: expected a number (got a boolean)", path=path)
            if isinstance(item, (int, float)):
                number = float(item)
            elif isinstance(item, str):
                try:
                    number = _parse_number(item.strip())
                except ValueError as exc:
                    raise KernelError(f"{where} row {i} value {j}: {exc}", path=path) from None
            else:
                raise KernelError(
                    f"{where} row {i} value {j}: expected a number (got {_toml_type(item)})", path=path
                )
            if not math.isfinite(number):
                raise KernelError(f"{where} row {i} value {j}: values must be finite (got {item!r})", path=path)
            out.append(number)
        rows.append(out)
    if width == 0:
        raise KernelError(f"{where} is empty (rows have no values)", path=path)
    return np.array(rows, dtype=np.float64)


def _toml_type(value):
    return {bool: "a boolean", int: "an integer", float: "a float", str: "a string", list: "a list", dict: "a table"}.get(
        type(value), type(value).__name__
    )


def _parse_toml_kernel(data, path):
    """Validate a parsed TOML document; return (matrices, names, descriptions, options)."""
    if not isinstance(data, dict):
        raise KernelError("a TOML kernel must be a table", path=path)
    unknown = [k for k in data if k not in _TOML_KEYS]
    if unknown:
        raise KernelError(
            f"unknown key {unknown[0]!r} in kernel file (allowed: {', '.join(_TOML_KEYS)})", path=path
        )
    if ("matrix" in data) == ("kernels" in data):
        raise KernelError("a TOML kernel needs exactly one of 'matrix' or '[[kernels]]'", path=path)
    matrices, names, descriptions = [], [], []
    if "matrix" in data:
        matrices.append(_toml_matrix(data["matrix"], "matrix", path))
        names.append(None)
        descriptions.append(None)
    else:
        tables = data["kernels"]
        if not isinstance(tables, list) or not tables or not all(isinstance(t, dict) for t in tables):
            raise KernelError("'kernels' must be a non-empty array of tables ([[kernels]])", path=path)
        for i, table in enumerate(tables, 1):
            unknown = [k for k in table if k not in _TOML_KERNEL_KEYS]
            if unknown:
                raise KernelError(
                    f"unknown key {unknown[0]!r} in kernels[{i}] (allowed: {', '.join(_TOML_KERNEL_KEYS)})",
                    path=path,
                )
            if "matrix" not in table:
                raise KernelError(f"kernels[{i}] has no 'matrix'", path=path)
            matrices.append(_toml_matrix(table["matrix"], f"kernels[{i}].matrix", path))
            for key, store in (("name", names), ("description", descriptions)):
                value = table.get(key)
                if value is not None and not isinstance(value, str):
                    raise KernelError(f"kernels[{i}].{key} must be a string (got {_toml_type(value)})", path=path)
                store.append(value)
    options = {}
    if "description" in data:
        if not isinstance(data["description"], str):
            raise KernelError(f"'description' must be a string (got {_toml_type(data['description'])})", path=path)
        options["description"] = data["description"]
    if "combine" in data:
        combine = data["combine"]
        if not isinstance(combine, str) or combine not in COMBINE_MODES:
            raise KernelError(
                f"'combine' must be one of {', '.join(COMBINE_MODES)} (got {combine!r})", path=path
            )
        options["combine"] = combine
    elif len(matrices) > 1:
        raise KernelError(f"{len(matrices)} kernels need 'combine' (magnitude, sum or max)", path=path)
    if options.get("combine") == "single" and len(matrices) != 1:
        raise KernelError(f"combine = 'single' needs exactly one matrix (got {len(matrices)})", path=path)
    for key in ("scale", "offset"):
        if key in data:
            value = data[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise KernelError(f"'{key}' must be a number (got {_toml_type(value)})", path=path)
            if not math.isfinite(value):
                raise KernelError(f"'{key}' must be finite (got {value!r})", path=path)
            options[key] = float(value)
    if "normalize" in data:
        if not isinstance(data["normalize"], bool):
            raise KernelError(f"'normalize' must be true or false (got {_toml_type(data['normalize'])})", path=path)
        options["normalize"] = data["normalize"]
    return matrices, names, descriptions, options


def _loads_toml(text, path):
    import tomllib

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise KernelError(f"invalid TOML: {exc}", path=path) from None
    except RecursionError:
        raise KernelError("invalid TOML: nested too deeply", path=path) from None


# ----------------------------------------------------------------------------
# Kernel files
# ----------------------------------------------------------------------------


def _read_file_bytes(path, limit=None):
    limit = MAX_KERNEL_FILE_BYTES if limit is None else limit
    try:
        size = path.stat().st_size
        if size > limit:
            raise KernelError(f"kernel file too large ({size} bytes; at most {limit})", path=path)
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise KernelError(f"cannot read kernel file: {exc.strerror or exc}", path=path) from None
    if len(data) > limit:  # grew since stat, or a special file that reports no size
        raise KernelError(f"kernel file too large (more than {limit} bytes)", path=path)
    return data


def _read_text(path, limit=None):
    data = _read_file_bytes(path, limit)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise KernelError("not a UTF-8 text file", path=path) from None


def _load_npy(path):
    """Load a 2-D real numeric .npy kernel, checking its header before reading any data."""
    from numpy.lib import format as npformat

    try:
        size = path.stat().st_size
    except OSError as exc:
        raise KernelError(f"cannot read kernel file: {exc.strerror or exc}", path=path) from None
    if size > MAX_KERNEL_FILE_BYTES:
        raise KernelError(f"kernel file too large ({size} bytes; at most {MAX_KERNEL_FILE_BYTES})", path=path)
    try:
        with open(path, "rb") as f:
            version = npformat.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = npformat.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, fortran, dtype = npformat.read_array_header_2_0(f)
            else:
                raise KernelError(f"unsupported .npy format version {version[0]}.{version[1]}", path=path)
            data_start = f.tell()
        if dtype.hasobject:
            raise KernelError("object (pickled) arrays are not allowed in kernel files", path=path)
        if dtype.kind not in "biuf":
            raise KernelError(f"kernel values must be real numbers (got dtype {dtype})", path=path)
        if len(shape) != 2:
            raise KernelError(f"a kernel must be a 2-D matrix (got {len(shape)}-D, shape {shape})", path=path)
        if shape[0] == 0 or shape[1] == 0:
            raise KernelError(f"the kernel is empty (shape {shape})", path=path)
        _check_shape(shape[0], shape[1], "kernel file", path)
        if size - data_start < shape[0] * shape[1] * dtype.itemsize:
            raise KernelError("truncated .npy file (less data than its header declares)", path=path)
        arr = np.load(path, allow_pickle=False)
    # numpy tokenizes some headers: a mangled one raises tokenize.TokenError (found by fuzzing)
    except (ValueError, OSError, EOFError, SyntaxError, TypeError, OverflowError, tokenize.TokenError) as exc:
        raise KernelError(f"not a valid .npy array: {exc}", path=path) from None
    return _as_kernel_matrix(arr, "kernel file", path)


def _path_state(path):
    """``"file"``, ``"other"`` (exists, not a regular file) or ``None`` (missing or unusable name)."""
    try:
        if path.is_file():
            return "file"
        return "other" if path.exists() else None
    except (OSError, ValueError):
        return None


def _load_file(spec, path):
    suffix = path.suffix.lower()
    state = _path_state(path)
    if state is None:
        raise KernelError("no such kernel file", path=path)
    if state != "file":
        raise KernelError("not a file", path=path)
    if suffix not in KERNEL_EXTENSIONS:
        raise KernelError(_extension_message(path.suffix), path=path)
    if suffix == ".npy":
        return Kernel(spec, (_load_npy(path),), description=f"from {path.name}")
    if suffix == ".toml":
        data = _loads_toml(_read_text(path, MAX_TOML_FILE_BYTES), path)
        matrices, _names, _descs, options = _parse_toml_kernel(data, path)
        options.setdefault("description", f"from {path.name}")
        return _make_kernel(spec, matrices, path, **options)
    matrix = parse_matrix_text(_read_text(path), source=path)
    return Kernel(spec, (matrix,), description=f"from {path.name}")


def _make_kernel(name, matrices, path=None, **options):
    try:
        return Kernel(name, tuple(matrices), **options)
    except KernelError as exc:
        raise KernelError(exc.message, path=path if exc.path is None else exc.path) from None


# ----------------------------------------------------------------------------
# Static presets (presets/*.toml, package imgconv.presets)
# ----------------------------------------------------------------------------


def _static_preset_files():
    """Map preset name -> Traversable of each presets/*.toml shipped with the package."""
    from imgconv.catalog import preset_files

    return preset_files()


@lru_cache(maxsize=None)
def _static_preset(name):
    """Parse one static preset file: (matrices, names, descriptions, options)."""
    entry = _static_preset_files()[name]
    where = f"preset {entry.name}"
    return _parse_toml_kernel(_loads_toml(entry.read_text(encoding="utf-8"), where), where)


def _static_kernel(name, params, spec_name):
    matrices, names, descriptions, options = _static_preset(name)
    directional = len(names) > 1 and all(names)
    allowed = ("direction",) if directional else ()
    for key in params:
        if key not in allowed:
            if not allowed:
                raise KernelError(f"{name}: takes no parameters (got {key!r})")
            raise KernelError(f"{name}: unknown parameter {key!r} (expected: {', '.join(allowed)})")
    direction = params.get("direction", "both").lower()
    if direction == "both":
        return Kernel(spec_name, tuple(matrices), **options)
    choices = names + ["both"]
    if direction not in names:
        raise KernelError(f"{name}: direction must be one of {'|'.join(choices)} (got {params['direction']!r})")
    i = names.index(direction)
    description = descriptions[i] or f"{options.get('description', name)} ({direction} only)"
    single = {k: v for k, v in options.items() if k not in ("combine", "description")}
    return Kernel(spec_name, (matrices[i],), description=description, **single)


# ----------------------------------------------------------------------------
# Parametric presets (generated in code)
# ----------------------------------------------------------------------------


def _number(preset, key, raw):
    try:
        if not _NUMBER_RE.fullmatch(raw):
            raise ValueError
        value = float(raw)
    except ValueError:
        raise KernelError(f"{preset}: {key} must be a number (got {raw!r})") from None
    if not math.isfinite(value):
        raise KernelError(f"{preset}: {key} must be finite (got {raw!r})")
    return value


def _positive(preset, key, raw):
    value = _number(preset, key, raw)
    if value <= 0:
        raise KernelError(f"{preset}: {key} must be > 0 (got {raw})")
    return value


def _non_negative(preset, key, raw):
    value = _number(preset, key, raw)
    if value < 0:
        raise KernelError(f"{preset}: {key} must be >= 0 (got {raw})")
    return value


def _size(preset, key, raw, odd):
    value = _number(preset, key, raw)
    if not value.is_integer():
        raise KernelError(f"{preset}: {key} must be a whole number (got {raw})")
    if value < 1:
        raise KernelError(f"{preset}: {key} must be >= 1 (got {raw})")
    if odd and value % 2 == 0:
        raise KernelError(f"{preset}: {key} must be odd (got {raw})")
    if value > MAX_KERNEL_SIDE:
        raise KernelError(f"{preset}: kernel too large ({key}={raw}; at most {MAX_KERNEL_SIDE} rows or columns)")
    return int(value)


def _odd_size(preset, key, raw):
    return _size(preset, key, raw, odd=True)


def _any_size(preset, key, raw):
    return _size(preset, key, raw, odd=False)


def _gaussian_1d(sigma, size):
    x = np.arange(size, dtype=np.float64) - size // 2
    with np.errstate(over="ignore", under="ignore"):
        g = np.exp(-0.5 * (x / sigma) ** 2)
    return g / g.sum()


def _auto_size(preset, sigma, size, reach):
    """The given odd size, or ``2 * ceil(reach * sigma) + 1``; bounded."""
    if size is None:
        half = math.ceil(reach * sigma)
        if half > MAX_KERNEL_SIDE:
            raise KernelError(
                f"{preset}: kernel too large (sigma={sigma:g} needs {_count(2 * half + 1)}x{_count(2 * half + 1)}; "
                f"at most {MAX_KERNEL_SIDE} rows or columns and {MAX_KERNEL_ELEMENTS} elements)"
            )
        size = 2 * half + 1
    _check_shape(size, size, preset)
    return size


def _box(size=3):
    m = np.full((size, size), 1.0 / (size * size))
    note = "" if size % 2 else "; even size: the anchor is (size//2, size//2), shifting by half a pixel"
    return (m,), f"Box (mean) filter {size}x{size}, sum 1, separable{note}"


def _gaussian(sigma=1.0, size=None):
    size = _auto_size("gaussian", sigma, size, 3.0)
    g = _gaussian_1d(sigma, size)
    return (np.outer(g, g),), f"Gaussian blur sigma={sigma:g}, {size}x{size}, normalised to sum 1, separable, symmetric"


def _unsharp(sigma=1.0, amount=1.0, size=None):
    size = _auto_size("unsharp", sigma, size, 3.0)
    g = _gaussian_1d(sigma, size)
    m = -amount * np.outer(g, g)
    m[size // 2, size // 2] += 1.0 + amount
    return (m,), (
        f"Unsharp mask (1+amount)*identity - amount*gaussian, sigma={sigma:g}, amount={amount:g}, "
        f"{size}x{size}, sum 1, symmetric"
    )


def _log(sigma=1.0, size=None):
    size = _auto_size("log", sigma, size, 4.0)
    if size < 3:
        raise KernelError(f"log: size must be >= 3 (got {size})")
    x = np.arange(size, dtype=np.float64) - size // 2
    xx, yy = np.meshgrid(x, x)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        q = (xx * xx + yy * yy) / (sigma * sigma)
        m = (q - 2.0) * np.exp(-0.5 * q)
    m -= m.mean()
    moment = float((m * xx * xx).sum())
    if not (np.isfinite(m).all() and moment > 1e-12 * float(np.abs(m).sum())):
        raise KernelError(f"log: sigma={sigma:g} cannot be sampled on a {size}x{size} grid")
    m *= 2.0 / moment
    return (m,), (
        f"Laplacian of Gaussian sigma={sigma:g}, {size}x{size}, sum 0, centre negative like 'laplacian', "
        "scaled so that x^2 gives 2, symmetric"
    )


def _exact_cos_sin(angle):
    a = angle % 360.0
    exact = {0.0: (1.0, 0.0), 90.0: (0.0, 1.0), 180.0: (-1.0, 0.0), 270.0: (0.0, -1.0)}
    if a in exact:
        return exact[a]
    t = math.radians(a)
    return math.cos(t), math.sin(t)


def _motion(length=9.0, angle=0.0):
    # The kernel is the pixel coverage of a 1-pixel-wide segment of the given length centred
    # on the anchor: |u| <= length/2 along the direction (cos a, -sin a) (rows grow downwards)
    # and |v| <= 1/2 across it, estimated with S x S samples in each pixel near the segment.
    # Every pixel sees the same sample pattern, so equal geometry gives equal weights, and an
    # odd integer length at 0/90/180/270 degrees gives exactly a 1 x length box.
    c, s = _exact_cos_sin(angle)
    half_len = length / 2.0
    reach = max(half_len * abs(c) + 0.5 * abs(s), half_len * abs(s) + 0.5 * abs(c))
    half = max(0, math.ceil(reach - 0.5))
    size = 2 * half + 1
    if size > MAX_KERNEL_SIDE or size * size > MAX_KERNEL_ELEMENTS:
        raise KernelError(
            f"motion: kernel too large (length={length:g} needs {_count(size)}x{_count(size)}; at most "
            f"{MAX_KERNEL_SIDE} rows or columns and {MAX_KERNEL_ELEMENTS} elements)"
        )
    samples = 16 if size <= 257 else 4
    offsets = (np.arange(samples) + 0.5) / samples - 0.5
    rows, cols = np.nonzero(np.ones((size, size), dtype=bool))
    yc, xc = rows - half, cols - half
    uc, vc = xc * c - yc * s, xc * s + yc * c
    near = (np.abs(uc) <= half_len + 0.75) & (np.abs(vc) <= 1.25)
    rows, cols, yc, xc = rows[near], cols[near], yc[near], xc[near]
    m = np.zeros((size, size))
    for dy in offsets:
        y = (yc + dy)[:, None]
        x = xc[:, None] + offsets[None, :]
        inside = (np.abs(x * c - y * s) <= half_len) & (np.abs(x * s + y * c) <= 0.5)
        m[rows, cols] += inside.sum(axis=1)
    if not m.any():  # a line far thinner than one sample covers nothing: no blur to describe
        return (np.ones((1, 1)),), f"Motion blur of length {length:g}: shorter than a pixel, identity"
    nz_rows, nz_cols = np.nonzero(m)
    keep = int(max(np.abs(nz_rows - half).max(), np.abs(nz_cols - half).max()))
    m = m[half - keep : half + keep + 1, half - keep : half + keep + 1]
    size = 2 * keep + 1
    m /= m.sum()
    return (m,), (
        f"Motion blur along a line of length {length:g} at {angle:g} degrees counter-clockwise from +x, "
        f"{size}x{size}, sum 1, anti-aliased, symmetric"
    )


def _disc(radius=3.0):
    half = max(0, math.ceil(radius - 0.5))
    size = 2 * half + 1
    _check_shape(size, size, "disc")
    # Coverage of each pixel by the disc: 8 sub-rows per pixel row, exact overlap along x.
    centres = np.arange(size, dtype=np.float64) - half
    m = np.zeros((size, size))
    for k in range(8):
        yk = centres + (k + 0.5) / 8 - 0.5
        w = np.sqrt(np.clip(radius * radius - yk * yk, 0.0, None))[:, None]
        m += np.clip(np.minimum(w, centres[None, :] + 0.5) - np.maximum(-w, centres[None, :] - 0.5), 0.0, 1.0)
    if not m.any():  # a radius far below one sample: the disc is a point
        return (np.ones((1, 1)),), f"Disc blur radius={radius:g}: smaller than a pixel, identity"
    m = (m + m.T) / m.sum() / 2.0  # the disc is symmetric under transposition; so is the estimate
    return (m,), f"Disc (lens/bokeh) blur radius={radius:g}, {size}x{size}, anti-aliased, sum 1, symmetric"


@dataclass(frozen=True)
class _Parametric:
    build: object
    params: dict
    summary: str


_PARAMETRIC = {
    "box": _Parametric(_box, {"size": _any_size}, PARAMETRIC_SUMMARIES["box"]),
    "gaussian": _Parametric(
        _gaussian,
        {"sigma": _positive, "size": _odd_size},
        PARAMETRIC_SUMMARIES["gaussian"],
    ),
    "unsharp": _Parametric(
        _unsharp,
        {"sigma": _positive, "amount": _non_negative, "size": _odd_size},
        PARAMETRIC_SUMMARIES["unsharp"],
    ),
    "log": _Parametric(
        _log,
        {"sigma": _positive, "size": _odd_size},
        PARAMETRIC_SUMMARIES["log"],
    ),
    "motion": _Parametric(
        _motion,
        {"length": _positive, "angle": _number},
        PARAMETRIC_SUMMARIES["motion"],
    ),
    "disc": _Parametric(_disc, {"radius": _positive}, PARAMETRIC_SUMMARIES["disc"]),
}


def _split_spec(spec):
    """``"gaussian: sigma=2, size=9"`` -> ``("gaussian", {"sigma": "2", "size": "9"}, canonical name)``."""
    base, sep, rest = spec.partition(":")
    base = base.strip().lower()
    params = {}
    if sep:
        if not rest.strip():
            raise KernelError(f"{base}: empty parameter list after ':' (expected key=value,...)")
        for item in rest.split(","):
            key, eq, value = item.partition("=")
            key, value = key.strip().lower(), value.strip()
            if not eq or not key or not value:
                raise KernelError(f"{base}: expected key=value in parameters (got {item.strip()!r})")
            if key in params:
                raise KernelError(f"{base}: parameter {key!r} given twice")
            params[key] = value
    name = base + (":" + ",".join(f"{k}={v}" for k, v in params.items()) if params else "")
    return base, params, name


def _preset_kernel(base, params, name):
    if base in _PARAMETRIC:
        preset = _PARAMETRIC[base]
        values = {}
        for key, raw in params.items():
            parse = preset.params.get(key)
            if parse is None:
                raise KernelError(
                    f"{base}: unknown parameter {key!r} (expected: {', '.join(preset.params)})"
                )
            values[key] = parse(base, key, raw)
        matrices, description = preset.build(**values)
        return Kernel(name, tuple(matrices), description=description)
    return _static_kernel(base, params, name)


def _is_preset(base):
    return base in _PARAMETRIC or base in _static_preset_files()


# ----------------------------------------------------------------------------
# Public entry points
# ----------------------------------------------------------------------------

# Only matrix characters, at least one digit.  Two linear checks: a single pattern
# ``[...]*\d[...]*`` backtracks polynomially (a 40 kB spec took 30 s to refuse).
_INLINE_CHARS_RE = re.compile(r"[\d\s.,;/+\-eE#]*")
_DIGIT_RE = re.compile(r"\d")


def load_kernel(spec) -> Kernel:
    """Turn a kernel spec into a :class:`Kernel`.

    Parameters
    ----------
    spec : str, path, array-like or Kernel
        A preset (``"sobel"``, ``"gaussian:sigma=2.5"``), a kernel file path
        (``.txt``, ``.csv``, ``.kernel``, ``.npy``, ``.toml``), an inline
        matrix (``"0,-1,0; -1,5,-1; 0,-1,0"``), a 2-D array-like (name
        ``"array"``) or a Kernel (returned as is).

    Returns
    -------
    Kernel

    Raises
    ------
    KernelError
        Unknown names, bad parameters, missing or invalid files (``path`` set),
        malformed inline matrices, kernels beyond the size bounds.

    Examples
    --------
    >>> load_kernel("sobel").combine
    'magnitude'
    >>> load_kernel("sobel:direction=x").matrices[0].tolist()
    [[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]]
    >>> load_kernel([[1, 2, 1]]).name
    'array'
    """
    if isinstance(spec, Kernel):
        return spec
    if isinstance(spec, os.PathLike):
        return _load_file(os.fspath(spec), Path(spec))
    if isinstance(spec, bytes):
        raise KernelError("a kernel spec must be text, a path or an array (got bytes)")
    if not isinstance(spec, str):
        return Kernel("array", (_as_kernel_matrix(spec, "array kernel"),), description="from an array")
    text = spec.strip()
    if not text:
        raise KernelError("empty kernel spec")
    base = text.partition(":")[0].strip().lower()
    if _is_preset(base):
        return _preset_kernel(*_split_spec(text))
    path = Path(text)
    suffix = path.suffix.lower()
    if suffix in KERNEL_EXTENSIONS:
        return _load_file(text, path)
    if "\n" not in text and len(text) < 4096 and _path_state(path) == "file":
        raise KernelError(_extension_message(path.suffix), path=path)
    if _INLINE_CHARS_RE.fullmatch(text) and _DIGIT_RE.search(text):
        try:
            matrix = parse_matrix_text(text)
        except KernelError as exc:
            raise KernelError(f"inline kernel: {exc.message}") from None
        return Kernel("inline", (matrix,), description="inline matrix")
    shown = text if len(text) <= 60 else text[:57] + "..."
    raise KernelError(f"unknown kernel {shown!r} (not a preset, file or matrix; see 'imgconv kernels')")


def _extension_message(suffix):
    return (
        f"unsupported kernel file extension {suffix or '(none)'!r} "
        f"(expected {', '.join(KERNEL_EXTENSIONS)})"
    )


def list_presets() -> list:
    """All preset names with one-line descriptions, sorted by name.

    Returns
    -------
    list of (str, str)
        Static presets (``presets/*.toml``) and parametric ones; a parametric
        description ends with its parameters and their defaults.

    Examples
    --------
    >>> names = [name for name, _ in list_presets()]
    >>> {"gaussian", "sobel", "identity"} <= set(names)
    True
    """
    from imgconv.catalog import preset_descriptions

    return preset_descriptions()


def _format_value(v):
    """A number for display: the shortest exact form (integer, short decimal or n/d), else 5 digits."""
    if v == 0:
        return "0"
    if float(v).is_integer() and abs(v) < 1e15:
        return str(int(v))
    exact = [text for text in (repr(float(v)),) if len(text) <= 7]
    frac = Fraction(v).limit_denominator(1024)
    if float(frac) == v:
        exact.append(f"{frac.numerator}/{frac.denominator}")
    if exact:
        return min(exact, key=len)
    return f"{v:.5g}"


_SHOW_MAX = 15


def _format_matrix(m):
    rows, cols = m.shape
    r0 = max(0, rows // 2 - _SHOW_MAX // 2) if rows > _SHOW_MAX else 0
    c0 = max(0, cols // 2 - _SHOW_MAX // 2) if cols > _SHOW_MAX else 0
    shown = m[r0 : r0 + _SHOW_MAX, c0 : c0 + _SHOW_MAX]
    cells = [[_format_value(float(v)) for v in row] for row in shown]
    width = max(len(c) for row in cells for c in row)
    lines = ["  " + " ".join(c.rjust(width) for c in row) for row in cells]
    if shown.shape != m.shape:
        lines.insert(
            0,
            f"  (centre {shown.shape[1]}x{shown.shape[0]} of {cols}x{rows} shown: "
            f"rows {r0}-{r0 + shown.shape[0] - 1}, columns {c0}-{c0 + shown.shape[1] - 1})",
        )
    return lines


_COMBINE_TEXT = {
    "single": "single matrix",
    "magnitude": "magnitude: sqrt of the sum of the squared results",
    "sum": "sum of the results",
    "max": "element-wise maximum of the results",
}


def describe_kernel(kernel: Kernel) -> str:
    """A readable description of a kernel, as printed by ``imgconv kernels SPEC``.

    For each matrix: the values (exact fractions where they are simple),
    size ``W x H``, sum and whether it is separable (rank 1 by SVD); then
    how the results combine, scale, offset and normalize.

    Parameters
    ----------
    kernel : Kernel

    Returns
    -------
    str
        Several lines, no trailing newline.

    Examples
    --------
    >>> print(describe_kernel(load_kernel("laplacian")))  # doctest: +ELLIPSIS
    laplacian: ...
    <BLANKLINE>
    3x3 (W x H), sum 0, separable: no (rank 2: 2 separable pairs)
         0  1  0
         1 -4  1
         0  1  0
    <BLANKLINE>
    combine: single matrix
    scale: 1, offset: 0, normalize: no
    """
    lines = [f"{kernel.name}: {kernel.description}" if kernel.description else kernel.name]
    n = len(kernel.matrices)
    for i, m in enumerate(kernel.matrices, 1):
        total = float(m.sum())
        if abs(total) <= 1e-12 * float(np.abs(m).sum()):
            total = 0.0
        head = f"matrix {i} of {n}: " if n > 1 else ""
        rank = low_rank_factors(m)[0].shape[0]  # the engine's own rule, so this says what runs
        sep = "yes" if rank == 1 else (f"no (rank {rank}: {rank} separable pairs)" if rank < min(m.shape) else "no")
        lines.append("")
        lines.append(f"{head}{m.shape[1]}x{m.shape[0]} (W x H), sum {_format_value(total)}, separable: {sep}")
        lines.extend("  " + line for line in _format_matrix(m))
    lines.append("")
    combine = _COMBINE_TEXT[kernel.combine]
    lines.append(f"combine: {combine}" + (f" ({n} matrices)" if n > 1 else ""))
    norm = "yes (each matrix is divided by its sum when applied)" if kernel.normalize else "no"
    lines.append(f"scale: {kernel.scale:g}, offset: {kernel.offset:g}, normalize: {norm}")
    return "\n".join(lines)
