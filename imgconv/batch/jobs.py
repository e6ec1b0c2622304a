"""Which files a run reads and where each result goes: discovery, output names, checks.

Examples
--------
>>> plan = plan_jobs(["photo.png"], suffix="sobel", must_exist=False)
>>> plan.jobs[0].dst.name
'photo.sobel.png'
"""
import os
from dataclasses import dataclass, field
from pathlib import Path

from imgconv.errors import ImgconvError

STDIO = "-"


@dataclass(frozen=True)
class Job:
    """One input file and where its result goes (``"-"`` for stdin / stdout)."""

    src: object
    dst: object


@dataclass
class JobPlan:
    """The jobs of a run, the jobs skipped as their outputs exist, and inputs ignored as non-images.

    ``several`` is True when the inputs are several files or a folder: outputs then go to a
    folder, and the run reports a summary.
    """

    jobs: list
    skipped: list = field(default_factory=list)
    ignored: list = field(default_factory=list)
    several: bool = False


def _image_extensions():
    from imgconv.imageio import supported_extensions

    return {e.lower() for e in supported_extensions()}


def check_glob(pattern):
    """``pattern`` when it can select files inside a folder, else ImgconvError (None passes).

    A pattern is matched relative to each folder input, so it cannot be empty or absolute.

    Examples
    --------
    >>> check_glob("*.png")
    '*.png'
    >>> check_glob("/tmp/*.png")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    imgconv.errors.ImgconvError: '/tmp/*.png' is an absolute pattern; ... (imgconv filter /tmp --glob '*.png')
    """
    if pattern is None:
        return None
    if not pattern.strip():
        raise ImgconvError("an empty pattern selects nothing (e.g. --glob '*.png')")
    if "\0" in pattern:
        raise ImgconvError(f"{pattern!r}: a pattern cannot hold a NUL character")
    path = Path(pattern)
    if path.is_absolute() or path.drive or path.root:
        folder, name = (str(path.parent), path.name) if path.name else (str(path), "*")
        raise ImgconvError(f"{pattern!r} is an absolute pattern; patterns are matched inside each folder input: "
                           f"give the folder as an input and the pattern relative to it "
                           f"(imgconv filter {folder} --glob '{name}')")
    return pattern


def discover(inputs, *, recursive=False, glob=None, skip_below=None, skip_suffix=None):
    """Expand inputs into ``(path, root)`` pairs: files as given, folders' image files sorted.

    ``root`` is the folder an input was found under (to mirror its tree), or None.
    Inside folders, files below ``skip_below`` (the output folder) and files named
    ``<stem>.<skip_suffix>.<ext>`` (earlier outputs written beside their inputs) are
    left out, so running the same command again does not filter its own results.
    Returns ``(found, ignored)``; ``ignored`` lists non-image files inside folders.
    """
    glob = check_glob(glob)
    exts = _image_extensions()
    skip_below = Path(skip_below).resolve() if skip_below else None

    def own_output(f, inside):
        if inside is not None and f.resolve().is_relative_to(inside):
            return True
        return skip_suffix is not None and f.stem.endswith("." + skip_suffix)

    found, ignored = [], []
    for item in inputs:
        if item == STDIO:
            found.append((STDIO, None))
            continue
        p = Path(item)
        if p.is_dir():
            top = p.resolve()  # an output folder strictly inside this input folder is not input
            inside = skip_below if skip_below not in (None, top) and skip_below.is_relative_to(top) else None
            pattern = glob or "*"
            walker = p.rglob(pattern) if recursive else p.glob(pattern)
            for f in sorted(walker):
                if f.is_file() and not f.name.startswith(".") and not own_output(f, inside):
                    if f.suffix.lower() in exts:
                        found.append((f, p))
                    elif glob is None:
                        ignored.append(f)
        else:
            found.append((p, None))  # a missing or bad file fails later, with its own message
    return found, ignored


def output_path(src, root, *, output, suffix, fmt, many):
    """Where ``src`` goes: beside it as ``<stem>.<suffix>.<ext>``, at ``output``, or under the
    ``output`` folder with the input folder's tree mirrored."""
    if src == STDIO:
        return Path(output) if output and output != STDIO else STDIO
    ext = ("." + fmt.lstrip(".").lower()) if fmt else src.suffix
    if output is None:
        return src.with_name(f"{src.stem}.{suffix}{ext}")
    if output == STDIO:
        return STDIO
    out = Path(output)
    if many or root is not None or out.is_dir() or str(output).endswith(("/", os.sep)):
        rel = src.relative_to(root) if root is not None else Path(src.name)
        return (out / rel).with_suffix(ext)
    return out


def plan_jobs(inputs, *, suffix, output=None, fmt=None, recursive=False, glob=None,
              overwrite=False, skip_existing=False, must_exist=True):
    """Find the inputs, name the outputs, and check the plan before anything is written.

    Raises ImgconvError for: no inputs, two inputs mapped to one output, an
    output that is an input (without ``overwrite``), and existing outputs (unless
    ``overwrite`` or ``skip_existing``).
    """
    out_dir = output if output not in (None, STDIO) and Path(output).is_dir() else None
    found, ignored = discover(inputs, recursive=recursive, glob=glob, skip_below=out_dir,
                              skip_suffix=suffix if output is None else None)
    if not found:
        raise ImgconvError("no image files found", path=", ".join(map(str, inputs)))
    many = len(found) > 1 or any(root is not None for _, root in found)
    if many and output not in (None, STDIO) and (
            (Path(output).exists() and not Path(output).is_dir())
            or (not Path(output).exists() and Path(output).suffix.lower() in _image_extensions())):
        raise ImgconvError("several inputs need an output folder, not a file", path=output)
    if many and output == STDIO:
        raise ImgconvError("several inputs cannot all be written to stdout")
    jobs, skipped, seen, existing = [], [], {}, []
    inputs_resolved = {Path(s).resolve() for s, _ in found if s != STDIO}
    for src, root in found:
        dst = output_path(src, root, output=output, suffix=suffix, fmt=fmt, many=many)
        if dst != STDIO:
            key = dst.resolve()
            if key in seen:
                raise ImgconvError(_collision(seen[key], src, dst, fmt))
            seen[key] = src
            if key in inputs_resolved and not overwrite:
                raise ImgconvError(f"{dst}: output would overwrite an input (use --overwrite to allow it)")
            if dst.exists() and must_exist:
                if skip_existing:
                    skipped.append(Job(src, dst))
                    continue
                existing.append(dst)
        jobs.append(Job(src, dst))
    if existing and not overwrite:
        more = f", and {len(existing) - 1} more of the {len(found)} outputs" if len(existing) > 1 else ""
        raise ImgconvError(f"{existing[0]}: output exists{more} (use --overwrite or --skip-existing)")
    return JobPlan(jobs, skipped, ignored, many)


def _collision(first, second, dst, fmt):
    """Why two inputs get one output name, and what to do about it."""
    if fmt:
        advice = f"--format {fmt} gives them the same name; run them separately"
    elif Path(str(first)).name == Path(str(second)).name:
        advice = ("files of the same name from different folders; give their common folder as the input "
                  "(its tree is mirrored) or run them separately")
    else:
        advice = "run them separately"
    return f"{first} and {second} would both be written to {dst}: {advice}"
