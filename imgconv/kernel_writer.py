"""Save a kernel matrix as a file that ``-k``, ``--psf`` and :func:`imgconv.load_kernel` read back.

``.npy`` (float64, ``allow_pickle=False``), ``.txt`` / ``.kernel`` (one row per line, values
separated by spaces, ``#`` comments) and ``.csv`` (commas), or ``.toml`` (the preset format:
``description`` and ``matrix``). Values are written with ``repr``, so they read back exactly.
A stack of kernels (C x h x w, one per channel) can only be a ``.npy``. Writes are atomic
and refuse an existing file unless ``overwrite``.

Examples
--------
>>> import os, tempfile, numpy as np
>>> from imgconv.kernels import load_kernel
>>> path = os.path.join(tempfile.mkdtemp(), "k.toml")
>>> save_kernel(path, np.array([[0.25, 0.5, 0.25]]), description="measured")
>>> load_kernel(path).matrices[0].tolist()
[[0.25, 0.5, 0.25]]
"""
import io
import os

import numpy as np

from imgconv.errors import ImageWriteError

__all__ = ["save_kernel", "KERNEL_OUTPUTS", "check_kernel_path"]

KERNEL_OUTPUTS = (".npy", ".txt", ".kernel", ".csv", ".toml")


def check_kernel_path(path, *, stack=False, overwrite=False):
    """Refuse, before any work, an output with the wrong extension or that exists."""
    from imgconv.imageio.atomic import check_new

    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if ext not in KERNEL_OUTPUTS:
        raise ImageWriteError(f"unsupported kernel file extension {ext or '(none)'!r} "
                              f"(use {', '.join(KERNEL_OUTPUTS)})", path)
    if stack and ext != ".npy":
        raise ImageWriteError("one kernel per channel (--channels each) is saved as a C x H x W .npy", path)
    check_new(path, overwrite=overwrite)
    return ext


def _text(matrix, sep, description):
    lines = [f"# {line}" for line in description.splitlines()] if description else []
    lines += [sep.join(repr(float(v)) for v in row) for row in matrix]
    return "\n".join(lines) + "\n"


def _toml(matrix, description):
    text = description.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
    rows = ",\n".join("  [" + ", ".join(repr(float(v)) for v in row) + "]" for row in matrix)
    return f'description = "{text}"\nmatrix = [\n{rows},\n]\n'


def save_kernel(path, kernel, *, description="", overwrite=False):
    """Write ``kernel`` (h x w, or C x h x w for ``.npy``) to ``path``, chosen by extension."""
    from imgconv.imageio.atomic import write_atomic

    k = np.asarray(kernel, dtype=np.float64)
    if k.ndim not in (2, 3) or k.size == 0 or not np.isfinite(k).all():
        raise ImageWriteError(f"not a finite 2-D kernel (shape {k.shape})", os.fspath(path))
    ext = check_kernel_path(path, stack=k.ndim == 3, overwrite=overwrite)
    if ext == ".npy":
        buffer = io.BytesIO()
        np.save(buffer, k, allow_pickle=False)
        data = buffer.getvalue()
    elif ext == ".toml":
        data = _toml(k, description).encode("utf-8")
    else:
        data = _text(k, ", " if ext == ".csv" else " ", description).encode("utf-8")
    write_atomic(os.fspath(path), lambda fp: fp.write(data), replace=overwrite)
