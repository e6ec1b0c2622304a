"""Resolving a kernel spec (a preset, a kernel file, an inline matrix, an array) into a :class:`Kernel`.

Examples
--------
>>> load_kernel("gaussian:sigma=2").matrices[0].shape
(13, 13)
>>> load_kernel("0,-1,0; -1,5,-1; 0,-1,0").name
'inline'
>>> load_kernel("3x3: 0,-1,0,-1,5,-1,0,-1,0").matrices[0][1].tolist()   # ImageMagick's form
[-1.0, 5.0, -1.0]
"""

from __future__ import annotations

import os
from pathlib import Path

from imgconv.errors import KernelError
from imgconv.kernels.files import _extension_message, _load_file, _path_state
from imgconv.kernels.model import KERNEL_EXTENSIONS, Kernel, _as_kernel_matrix
from imgconv.kernels.parsing import (
    _looks_like_inline_matrix,
    _split_spec,
    parse_imagemagick_kernel,
    parse_matrix_text,
)
from imgconv.kernels.presets import build_preset, is_preset


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
    matrix = parse_imagemagick_kernel(text)
    if matrix is not None:
        h, w = matrix.shape
        return Kernel("inline", (matrix,), description=f"{w}x{h} matrix (ImageMagick's form)")
    base = text.partition(":")[0].strip().lower()
    if is_preset(base):
        return build_preset(*_split_spec(text))
    path = Path(text)
    suffix = path.suffix.lower()
    if suffix in KERNEL_EXTENSIONS:
        return _load_file(text, path)
    if "\n" not in text and len(text) < 4096 and _path_state(path) == "file":
        raise KernelError(_extension_message(path.suffix), path=path)
    if _looks_like_inline_matrix(text):
        try:
            matrix = parse_matrix_text(text)
        except KernelError as exc:
            raise KernelError(f"inline kernel: {exc.message}") from None
        return Kernel("inline", (matrix,), description="inline matrix")
    shown = text if len(text) <= 60 else text[:57] + "..."
    raise KernelError(f"unknown kernel {shown!r} (not a preset, file or matrix; see 'imgconv kernels')")
