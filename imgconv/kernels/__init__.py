"""Kernels: the :class:`Kernel` model, kernel specs, kernel files and the presets.

A *kernel spec* is what a user passes to ``-k/--kernel``:

- a preset name, optionally with parameters ``name:key=value,key=value``
  (``sobel``, ``gaussian:sigma=2.5``, ``motion:length=15,angle=30``), see
  :mod:`imgconv.kernels.presets`;
- a kernel file, recognised by its extension: ``.txt``, ``.csv``, ``.kernel``
  (text, one row per line), ``.npy`` (a 2-D numeric array) or ``.toml``, see
  :mod:`imgconv.kernels.files`;
- an inline matrix, rows separated by ``;`` and values by ``,`` or spaces:
  ``"0,-1,0; -1,5,-1; 0,-1,0"``, or ImageMagick's ``"3x3: 0,-1,0,-1,5,-1,0,-1,0"``
  (row-major), see :mod:`imgconv.kernels.parsing`.

The modules: ``model`` (:class:`Kernel`, size limits), ``parsing`` (text),
``files`` (kernel files), ``presets`` (the preset table, NumPy-free) and
``builders`` (the parametric presets), ``load`` (:func:`load_kernel`),
``describe`` (printouts). The names below are imported from them on first use,
so that importing ``imgconv.kernels.presets`` alone (``imgconv kernels``, the
listing) does not import NumPy.

Examples
--------
>>> from imgconv.kernels import load_kernel
>>> k = load_kernel("gaussian:sigma=2")
>>> k.matrices[0].shape, k.slug
((13, 13), 'gaussian-sigma2')
>>> load_kernel("0,-1,0; -1,5,-1; 0,-1,0").matrices[0].sum()
np.float64(1.0)
"""

from importlib import import_module
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from imgconv.kernels.describe import describe_kernel, list_presets
    from imgconv.kernels.files import MAX_KERNEL_FILE_BYTES, MAX_TOML_FILE_BYTES
    from imgconv.kernels.load import load_kernel
    from imgconv.kernels.model import (
        KERNEL_EXTENSIONS,
        MAX_KERNEL_ELEMENTS,
        MAX_KERNEL_MATRICES,
        MAX_KERNEL_SIDE,
        Kernel,
        is_separable,
    )
    from imgconv.kernels.parsing import parse_imagemagick_kernel, parse_matrix_text, spec_notes

#: Public name -> the module of this package that defines it.
_HOMES = MappingProxyType(
    {
        "Kernel": "model",
        "load_kernel": "load",
        "list_presets": "describe",
        "describe_kernel": "describe",
        "parse_matrix_text": "parsing",
        "parse_imagemagick_kernel": "parsing",
        "spec_notes": "parsing",
        "is_separable": "model",
        "KERNEL_EXTENSIONS": "model",
        "MAX_KERNEL_SIDE": "model",
        "MAX_KERNEL_ELEMENTS": "model",
        "MAX_KERNEL_MATRICES": "model",
        "MAX_KERNEL_FILE_BYTES": "files",
        "MAX_TOML_FILE_BYTES": "files",
    }
)

__all__ = [
    "KERNEL_EXTENSIONS",
    "MAX_KERNEL_ELEMENTS",
    "MAX_KERNEL_FILE_BYTES",
    "MAX_KERNEL_MATRICES",
    "MAX_KERNEL_SIDE",
    "MAX_TOML_FILE_BYTES",
    "Kernel",
    "describe_kernel",
    "is_separable",
    "list_presets",
    "load_kernel",
    "parse_imagemagick_kernel",
    "parse_matrix_text",
    "spec_notes",
]


def __getattr__(name):
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{home}"), name)


def __dir__():
    return sorted(set(globals()) | set(_HOMES))
