"""The preset catalogue, without NumPy: names, one-line descriptions, preset files.

``imgconv kernels`` lists presets through this module alone, so it answers as fast
as ``imgconv --help``; building a kernel goes through :mod:`imgconv.kernels`.

Examples
--------
>>> names = [name for name, _ in preset_descriptions()]
>>> "gaussian" in names and "sobel" in names
True
"""
from functools import lru_cache
from pathlib import Path

#: one-line descriptions of the presets generated in code (imgconv.kernels builds them)
PARAMETRIC_SUMMARIES = {
    "box": "Box (mean) filter, sum 1; size=3 (whole number)",
    "gaussian": "Gaussian blur, sum 1, separable; sigma=1, size=2*ceil(3*sigma)+1 (odd)",
    "unsharp": "Unsharp mask (1+amount)*identity - amount*gaussian, sum 1; sigma=1, amount=1, size=auto (odd)",
    "log": "Laplacian of Gaussian, sum 0, centre negative; sigma=1, size=2*ceil(4*sigma)+1 (odd)",
    "motion": "Motion blur along a line, sum 1; length=9, angle=0 (degrees counter-clockwise from +x)",
    "disc": "Disc (lens) blur, anti-aliased, sum 1; radius=3",
}


@lru_cache(maxsize=None)
def preset_files():
    """Map preset name -> Traversable of each presets/*.toml shipped with the package."""
    from importlib.resources import files

    try:
        root = files("imgconv.presets")
    except ModuleNotFoundError:  # running from a source checkout that is not installed
        root = Path(__file__).resolve().parent.parent / "presets"
    return {
        entry.name[: -len(".toml")].lower(): entry
        for entry in root.iterdir()
        if entry.name.endswith(".toml") and entry.is_file()
    }


def preset_descriptions():
    """All presets as sorted ``(name, one-line description)`` pairs, static and parametric."""
    import tomllib

    out = list(PARAMETRIC_SUMMARIES.items())
    for name, entry in preset_files().items():
        try:
            description = tomllib.loads(entry.read_text(encoding="utf-8")).get("description", "")
        except tomllib.TOMLDecodeError:
            description = ""
        out.append((name, str(description).splitlines()[0] if description else name))
    return sorted(out)
