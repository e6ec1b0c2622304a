"""Kernel files: text (``.txt``, ``.csv``, ``.kernel``), ``.npy`` arrays and TOML documents.

The kind of a file is its extension. Text files hold a matrix in the format of
:func:`imgconv.kernels.parsing.parse_matrix_text`; ``.npy`` files a 2-D real
numeric array (no pickles; the header is checked before any data is read); TOML
files the format of the shipped presets. Each kind may also hold a 3-D kernel for
volumes (:mod:`imgconv.kernels.volumetric`: text planes separated by ``---``, a 3-D
``.npy``, TOML lists of planes)::

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
>>> matrices, names, descriptions, options = _parse_toml_kernel(
...     _loads_toml('combine = "sum"\\n[[kernels]]\\nmatrix = [[1, "1/2"]]\\n', "k.toml"), "k.toml")
>>> matrices[0].tolist(), options
([[1.0, 0.5]], {'combine': 'sum'})
"""

from __future__ import annotations

import math

import numpy as np

from imgconv.errors import KernelError
from imgconv.kernels.model import (
    COMBINE_MODES,
    KERNEL_EXTENSIONS,
    Kernel,
    _as_kernel_matrix,
    _check_shape,
    _check_volume_shape,
    check_matrix_count,
)
from imgconv.kernels.parsing import _parse_number, parse_matrix_text
from imgconv.kernels.volumetric import has_plane_separator, is_nested_3d, parse_planes_text, toml_volume

#: Kernel files larger than this are refused before they are read.
MAX_KERNEL_FILE_BYTES = 64 * 2**20
#: TOML kernel files larger than this are refused before they are parsed: Python's TOML
#: parser reads about 0.5 MB/s and needs ~25x the file size in memory (a 60 MB file took
#: over 2 minutes and 1.6 GB).  1 MiB holds a 255 x 255 matrix of 12-digit decimals;
#: larger kernels belong in .npy or text files.
MAX_TOML_FILE_BYTES = 2**20

_TOML_KEYS = ("description", "matrix", "kernels", "combine", "scale", "offset", "normalize")
_TOML_KERNEL_KEYS = ("matrix", "name", "description")


def _toml_matrix(value, where, path):
    """Validate a TOML matrix (list of equally long lists of numbers or fraction strings), or a list of them."""
    if is_nested_3d(value):
        return toml_volume(value, where, path, _toml_matrix)
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
    """The TOML type of a parsed value, for messages: ``"a boolean"``, ``"a list"``..."""
    names = {bool: "a boolean", int: "an integer", float: "a float", str: "a string", list: "a list", dict: "a table"}
    return names.get(type(value), type(value).__name__)


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
        check_matrix_count(len(tables), "[[kernels]]", path)  # before any matrix is converted
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
    """Load a 2-D (or 3-D) real numeric .npy kernel, checking its header before reading any data."""
    from imgconv.imageio.npy import read_npy

    try:
        size = path.stat().st_size
    except OSError as exc:
        raise KernelError(f"cannot read kernel file: {exc.strerror or exc}", path=path) from None
    if size > MAX_KERNEL_FILE_BYTES:
        raise KernelError(f"kernel file too large ({size} bytes; at most {MAX_KERNEL_FILE_BYTES})", path=path)

    def check(shape, dtype):
        if dtype.kind not in "biuf":
            raise KernelError(f"kernel values must be real numbers (got dtype {dtype})", path=path)
        if len(shape) not in (2, 3):
            raise KernelError(f"a kernel must be a 2-D matrix (got {len(shape)}-D, shape {shape}) "
                              "or, for volumes, a 3-D one", path=path)
        if 0 in shape:
            raise KernelError(f"the kernel is empty (shape {shape})", path=path)
        if len(shape) == 3:
            _check_volume_shape(shape, "kernel file", path)
        else:
            _check_shape(shape[0], shape[1], "kernel file", path)

    arr = read_npy(path, check=check, error=lambda message, label: KernelError(message, path=label))
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
    text = _read_text(path)
    matrix = parse_planes_text(text, path) if has_plane_separator(text) else parse_matrix_text(text, source=path)
    return Kernel(spec, (matrix,), description=f"from {path.name}")


def _make_kernel(name, matrices, path=None, **options):
    try:
        return Kernel(name, tuple(matrices), **options)
    except KernelError as exc:
        raise KernelError(exc.message, path=path if exc.path is None else exc.path) from None


def _extension_message(suffix):
    return (
        f"unsupported kernel file extension {suffix or '(none)'!r} "
        f"(expected {', '.join(KERNEL_EXTENSIONS)})"
    )
