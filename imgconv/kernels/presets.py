"""The presets: names, parameters and one-line summaries (without NumPy), and building them.

Two kinds of presets:

- static ones, the TOML files shipped as the package data ``imgconv.presets`` (the
  format of :mod:`imgconv.kernels.files`); those whose ``[[kernels]]`` are all named
  take ``direction=NAME|both``;
- parametric ones, listed in :data:`PARAMETRIC_PRESETS` and built in code by
  :mod:`imgconv.kernels.builders`.

``imgconv kernels`` lists the presets through this module alone, so it answers as
fast as ``imgconv --help``: NumPy is imported only when a kernel is built.

Presets are written for **true convolution**, imgconv's default (the kernel is
flipped, exactly as ``scipy.ndimage.convolve`` does). With that convention the ``x``
derivative presets (``sobel``, ``prewitt``, ``scharr`` with ``direction=x``) give a
*positive* response where intensity increases to the right (+x, increasing column),
and the ``y`` ones where it increases downwards (+y, increasing row). Applying them
with ``--correlate`` (kernel as written) reverses those signs.

Examples
--------
>>> names = [name for name, _ in preset_descriptions()]
>>> "gaussian" in names and "sobel" in names
True
>>> PARAMETRIC_PRESETS["gaussian"].parameters
(('sigma', 'positive'), ('size', 'odd_size'))
"""

from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import NamedTuple

from imgconv.errors import KernelError


class ParametricPreset(NamedTuple):
    """A preset built in code, by the function ``builder`` of :mod:`imgconv.kernels.builders`."""

    #: name of the building function, called with the parsed parameters as keywords
    builder: str
    #: ``(parameter, kind)`` pairs, kinds as in :func:`imgconv.kernels.parsing.parse_parameter`
    parameters: tuple
    #: one line for the listing: what it is, then the parameters and their defaults
    summary: str


#: Every parametric preset: name -> how to parse its parameters and build it.
PARAMETRIC_PRESETS = MappingProxyType(
    {
        "box": ParametricPreset(
            "build_box",
            (("size", "any_size"),),
            "Box (mean) filter, sum 1; size=3 (whole number; or x,y,z sizes, dims=3 for volumes)",
        ),
        "gaussian": ParametricPreset(
            "build_gaussian",
            (("sigma", "positive"), ("size", "odd_size")),
            "Gaussian blur, sum 1, separable; sigma=1 (or x,y,z sigmas; dims=3 for volumes), "
            "size=2*ceil(3*sigma)+1 (odd)",
        ),
        "unsharp": ParametricPreset(
            "build_unsharp",
            (("sigma", "positive"), ("amount", "non_negative"), ("size", "odd_size")),
            "Unsharp mask (1+amount)*identity - amount*gaussian, sum 1; sigma=1, amount=1, size=auto (odd)",
        ),
        "log": ParametricPreset(
            "build_log",
            (("sigma", "positive"), ("size", "odd_size")),
            "Laplacian of Gaussian, sum 0, centre negative; sigma=1 (or x,y,z; dims=3 for volumes), "
            "size=2*ceil(4*sigma)+1 (odd)",
        ),
        "motion": ParametricPreset(
            "build_motion",
            (("length", "positive"), ("angle", "number")),
            "Motion blur along a line, sum 1; length=9, angle=0 (degrees counter-clockwise from +x)",
        ),
        "disc": ParametricPreset(
            "build_disc",
            (("radius", "positive"),),
            "Disc (lens) blur, anti-aliased, sum 1; radius=3",
        ),
    }
)


@cache
def preset_files():
    """Map preset name -> Traversable of each ``*.toml`` file of the package ``imgconv.presets``.

    Raises
    ------
    KernelError
        When that package, or every TOML file in it, is missing: the installation
        is incomplete.
    """
    try:
        root = resources.files("imgconv.presets")
    except ModuleNotFoundError:
        root = None
    found = {} if root is None else {
        entry.name[: -len(".toml")].lower(): entry
        for entry in root.iterdir()
        if entry.name.endswith(".toml") and entry.is_file()
    }
    if not found:
        raise KernelError("imgconv installation is incomplete: preset files missing")
    return MappingProxyType(found)


def preset_descriptions():
    """All presets as sorted ``(name, one-line description)`` pairs, static and parametric."""
    import tomllib

    out = [(name, preset.summary) for name, preset in PARAMETRIC_PRESETS.items()]
    for name, entry in preset_files().items():
        try:
            description = tomllib.loads(entry.read_text(encoding="utf-8")).get("description", "")
        except tomllib.TOMLDecodeError:
            description = ""
        out.append((name, str(description).splitlines()[0] if description else name))
    return sorted(out)


def is_preset(name):
    """Whether ``name`` (lower case, without parameters) names a preset."""
    return name in PARAMETRIC_PRESETS or name in preset_files()


def build_preset(name, params, spec_name):
    """The Kernel of preset ``name`` with the parameters ``params`` (text values), named ``spec_name``.

    ``dims=`` or one value per axis (``sigma=1,1,3``) build the kernel in
    :mod:`imgconv.kernels.builders_nd` (3-D kernels for volumes).
    """
    if "dims" in params or any("," in value for value in params.values()):
        from imgconv.kernels.builders_nd import build_axes_preset

        return build_axes_preset(name, params, spec_name)
    preset = PARAMETRIC_PRESETS.get(name)
    if preset is None:
        return _build_static(name, params, spec_name)
    from imgconv.kernels import builders
    from imgconv.kernels.model import Kernel
    from imgconv.kernels.parsing import parse_parameter

    kinds = dict(preset.parameters)
    values = {}
    for key, raw in params.items():
        kind = kinds.get(key)
        if kind is None:
            raise KernelError(f"{name}: unknown parameter {key!r} (expected: {', '.join(kinds)})")
        values[key] = parse_parameter(kind, name, key, raw)
    matrices, description = getattr(builders, preset.builder)(**values)
    return Kernel(spec_name, tuple(matrices), description=description)


@cache
def _parse_static(name):
    """Parse one static preset file: (matrices, names, descriptions, options)."""
    from imgconv.kernels.files import _loads_toml, _parse_toml_kernel

    entry = preset_files()[name]
    where = f"preset {entry.name}"
    return _parse_toml_kernel(_loads_toml(entry.read_text(encoding="utf-8"), where), where)


def _build_static(name, params, spec_name):
    from imgconv.kernels.model import Kernel

    matrices, names, descriptions, options = _parse_static(name)
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
