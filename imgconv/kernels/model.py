"""The :class:`Kernel` model: one filter, its matrices, how their results combine, and the size limits.

Every matrix a kernel holds passed :func:`_as_kernel_matrix`: 2-D (or 3-D, a kernel for
volumes: planes x rows x columns), non-empty, real, finite, within ``MAX_KERNEL_SIDE`` and
``MAX_KERNEL_ELEMENTS``, stored read-only as float64.

Examples
--------
>>> import numpy as np
>>> k = Kernel("inline", np.array([[1, 2, 1]]))
>>> k.matrices[0].dtype, k.shape, k.slug
(dtype('float64'), (1, 3), 'custom')
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from dataclasses import dataclass

import numpy as np

from imgconv.engine.separable import low_rank_factors
from imgconv.errors import KernelError

#: Largest number of rows or columns a kernel may have.
MAX_KERNEL_SIDE = 4097
#: Largest number of elements of one kernel matrix (2048 x 2048).
MAX_KERNEL_ELEMENTS = 2**22
#: Most matrices one kernel may combine (the largest preset, kirsch, has 8): each is one
#: convolution of the whole image, so 20,000 of them would run for minutes.
MAX_KERNEL_MATRICES = 64
#: File extensions recognised as kernel files.
KERNEL_EXTENSIONS = (".txt", ".csv", ".kernel", ".npy", ".toml")
#: How the results of a kernel's matrices combine.
COMBINE_MODES = ("single", "magnitude", "sum", "max")


@dataclass(frozen=True, eq=False, repr=False)
class Kernel:
    """One filter: one or more matrices, how their results combine, scale and offset.

    Parameters
    ----------
    name : str
        What the user asked for: ``"sobel"``, ``"gaussian:sigma=2.5"``, a file
        path such as ``"edges.txt"``, ``"inline"`` or ``"array"``.
    matrices : tuple of ndarray
        One or more 2-D float64 arrays (stored read-only), or 3-D ones (Z x Y x X) for
        volumes, all of one dimensionality. A single 2-D or 3-D array is accepted and
        wrapped in a tuple.
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
        if isinstance(mats, np.ndarray) and mats.ndim in (2, 3):
            mats = (mats,)
        if not isinstance(mats, (tuple, list)) or len(mats) == 0:
            raise KernelError(f"kernel {self.name!r}: matrices must be a non-empty tuple of 2-D arrays")
        check_matrix_count(len(mats), f"kernel {self.name!r}")
        fixed = tuple(_as_kernel_matrix(m, f"kernel {self.name!r}") for m in mats)
        if len({m.ndim for m in fixed}) > 1:
            raise KernelError(f"kernel {self.name!r}: 2-D and 3-D matrices cannot be mixed in one kernel")
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
        >>> from imgconv.kernels import load_kernel
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

    def normalized(self) -> Kernel:
        """Return this kernel with each matrix divided by its sum.

        A matrix whose sum is ~0 (``|sum| <= 1e-8 * sum(|k|)``, e.g. an edge
        detector) is left as it is. The result has ``normalize=False``: the
        division has been applied.

        Examples
        --------
        >>> from imgconv.kernels import load_kernel
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
        """``(rows, columns)`` of the largest extent over all matrices; ``(planes, rows, columns)`` in 3-D."""
        return tuple(max(m.shape[axis] for m in self.matrices) for axis in range(self.ndim))

    @property
    def ndim(self) -> int:
        """2, or 3 for a kernel for volumes."""
        return self.matrices[0].ndim

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
        shapes = ", ".join("x".join(str(n) for n in m.shape[::-1]) for m in self.matrices)
        return (
            f"Kernel(name={self.name!r}, matrices=[{shapes}], combine={self.combine!r}, "
            f"scale={self.scale:g}, offset={self.offset:g}, normalize={self.normalize})"
        )


def _count(n):
    """An integer for a message: exact up to 9 digits, else like ``6e+300``."""
    return str(n) if n < 10**9 else f"{float(n):.3g}"


def check_matrix_count(count, what, path=None):
    """Refuse a kernel of more than :data:`MAX_KERNEL_MATRICES` matrices (KernelError)."""
    if count > MAX_KERNEL_MATRICES:
        raise KernelError(f"{what}: {count} matrices in one kernel; at most {MAX_KERNEL_MATRICES} "
                          "(chain several kernels with -k instead)", path=path)


def _check_shape(rows, cols, what, path=None):
    """Raise KernelError when a kernel of ``rows`` x ``cols`` exceeds the bounds."""
    if rows > MAX_KERNEL_SIDE or cols > MAX_KERNEL_SIDE or rows * cols > MAX_KERNEL_ELEMENTS:
        raise KernelError(
            f"{what}: kernel too large ({_count(cols)}x{_count(rows)}; at most {MAX_KERNEL_SIDE} rows or columns "
            f"and {MAX_KERNEL_ELEMENTS} elements)",
            path=path,
        )


def _check_volume_shape(shape, what, path=None):
    """Raise KernelError when a 3-D kernel of ``shape`` (planes, rows, columns) exceeds the bounds."""
    if max(shape) > MAX_KERNEL_SIDE or math.prod(shape) > MAX_KERNEL_ELEMENTS:
        size = "x".join(_count(n) for n in shape[::-1])
        raise KernelError(f"{what}: kernel too large ({size}; at most {MAX_KERNEL_SIDE} planes, rows or columns "
                          f"and {MAX_KERNEL_ELEMENTS} elements)", path=path)


def _as_kernel_matrix(value, what, path=None):
    """Validate one matrix: 2-D (or 3-D), non-empty, real numeric, finite, within bounds -> read-only float64."""
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
    if arr.ndim not in (2, 3):
        raise KernelError(f"{what}: a kernel must be a 2-D matrix (got {arr.ndim}-D, shape {arr.shape}) "
                          "or, for volumes, a 3-D one", path=path)
    if arr.size == 0:
        raise KernelError(f"{what}: the kernel is empty (shape {arr.shape})", path=path)
    if arr.ndim == 3:
        _check_volume_shape(arr.shape, what, path)
    else:
        _check_shape(arr.shape[0], arr.shape[1], what, path)
    with np.errstate(over="ignore", invalid="ignore"):
        arr = np.array(arr, dtype=np.float64, order="C", copy=True)
    if not np.isfinite(arr).all():
        raise KernelError(f"{what}: kernel values must be finite (found NaN or Inf)", path=path)
    arr.setflags(write=False)
    return arr


def separable_rank(matrix) -> int:
    """How many separable (column x row) pairs the engine splits ``matrix`` into.

    The engine's own rule, :func:`imgconv.engine.separable.low_rank_factors`
    (SVD, components dropped while their worst-case error stays within budget),
    so that what is reported is what runs. A 3-D kernel counts the (column x row) pairs of
    :func:`imgconv.engine.nd_separable.axis_factors`: 1 for a product of three 1-D factors.

    Examples
    --------
    >>> import numpy as np
    >>> separable_rank(np.outer([1, 2, 1], [1, 0, -1])), separable_rank(np.eye(3))
    (1, 3)
    >>> separable_rank(np.ones((3, 3, 3)))
    1
    """
    if np.ndim(matrix) == 3:
        from imgconv.engine.nd_separable import axis_factors

        return axis_factors(matrix).pairs
    return low_rank_factors(matrix)[0].shape[0]


def is_separable(matrix) -> bool:
    """Whether the engine runs ``matrix`` as one pair of 1-D passes (rank 1).

    Decided by :func:`separable_rank`, the engine's rule. A single row or
    column, and the all-zero matrix, are separable.

    Examples
    --------
    >>> import numpy as np
    >>> is_separable(np.outer([1, 2, 1], [1, 0, -1])), is_separable(np.eye(3))
    (True, False)
    """
    return separable_rank(matrix) == 1
