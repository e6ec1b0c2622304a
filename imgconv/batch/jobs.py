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

from imgconv.batch.walk import pattern_parts, walk_files
from imgconv.errors import ImgconvError
from imgconv.paths import exists, kind, name_problem, real_path, stat_problem

STDIO = "-"


@dataclass(frozen=True)
class Job:
    """One input file and where its result goes (``"-"`` for stdin / stdout)."""

    src: object
    dst: object
    #: whether an existing ``dst`` may be replaced (``--overwrite``); otherwise one that
    #: appears before the result is written makes this job fail with "output exists"
    replace: bool = False


@dataclass
class JobPlan:
    """The jobs of a run, the jobs skipped as their outputs exist, and inputs ignored as non-images.

    ``several`` is True when the inputs are several files or a folder: outputs then go to a
    folder, and the run reports a summary.  ``order`` lists the inputs of both as found.
    """

    jobs: list
    skipped: list = field(default_factory=list)
    ignored: list = field(default_factory=list)
    several: bool = False
    order: list = field(default_factory=list)


def _image_extensions():
    from imgconv.imageio import supported_extensions

    return {e.lower() for e in supported_extensions()}


def discover(inputs, *, recursive=False, glob=None, skip_below=None, skip_suffix=None):
    """Expand inputs into ``(path, root)`` pairs: files as given, folders' image files sorted.

    ``root`` is the folder an input was found under (to mirror its tree), or None.
    Inside folders, files below ``skip_below`` (the output folder) and files named
    ``<stem>.<skip_suffix>.<ext>`` (earlier outputs written beside their inputs) are
    left out, so running the same command again does not filter its own results.
    ``glob`` patterns stay inside their folder (:mod:`~imgconv.batch.walk`); trees of
    any depth are walked without recursion.
    Returns ``(found, ignored)``; ``ignored`` lists non-image files inside folders.
    """
    exts = None  # Pillow's list of formats, read when a folder is walked (a tenth of a second)
    pattern = pattern_parts(glob, recursive=recursive)  # a bad pattern fails before any folder is read
    skip_below = real_path(skip_below) if skip_below else None

    def own_output(f, inside):
        if inside is not None and real_path(f).is_relative_to(inside):
            return True
        return skip_suffix is not None and f.stem.endswith("." + skip_suffix)

    found, ignored = [], []
    for item in inputs:
        if item == STDIO:
            found.append((STDIO, None))
            continue
        p = Path(item)
        if kind(p) == "folder":
            top = real_path(p)  # an output folder strictly inside this input folder is not input
            inside = skip_below if skip_below not in (None, top) and skip_below.is_relative_to(top) else None
            exts = exts or _image_extensions()
            for rel in walk_files(p, pattern):
                f = p.joinpath(*rel)
                if not f.name.startswith(".") and not own_output(f, inside):
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
    if many or root is not None or kind(out) == "folder" or str(output).endswith(("/", os.sep)):
        rel = src.relative_to(root) if root is not None else Path(src.name)
        if rel.is_absolute() or ".." in rel.parts:  # never outside -o, whatever found the input
            raise ImgconvError(f"{src}: would be written outside the output folder {output}")
        return (out / rel).with_suffix(ext)
    return out


def plan_jobs(inputs, *, suffix, output=None, fmt=None, recursive=False, glob=None,
              overwrite=False, skip_existing=False, must_exist=True, depth=None):
    """Find the inputs, name the outputs, and check the plan before anything is written.

    Raises ImgconvError for: no inputs, a name longer than the file system allows, two
    inputs mapped to one output, an output that is an input (without ``overwrite``),
    existing outputs (unless ``overwrite`` or ``skip_existing``), and an output format
    that is unknown or cannot hold ``depth``.  Each job may replace its output only with
    ``overwrite`` (:attr:`Job.replace`): one that appears after planning is then refused.
    """
    out_dir = output if output not in (None, STDIO) and kind(output) == "folder" else None
    found, ignored = discover(inputs, recursive=recursive, glob=glob, skip_below=out_dir,
                              skip_suffix=suffix if output is None else None)
    if not found:
        raise ImgconvError("no image files found", path=", ".join(map(str, inputs)))
    many = len(found) > 1 or any(root is not None for _, root in found)
    if many and output not in (None, STDIO) and (
            (exists(output) and kind(output) != "folder")
            or (not exists(output) and Path(output).suffix.lower() in _image_extensions())):
        raise ImgconvError("several inputs need an output folder, not a file", path=output)
    if many and output == STDIO:
        raise ImgconvError("several inputs cannot all be written to stdout")
    _check_format(output, fmt, depth, many)
    jobs, skipped, seen, existing = [], [], {}, []
    inputs_resolved = {real_path(s) for s, _ in found if s != STDIO}
    for src, root in found:
        too_long = name_problem(src) if src != STDIO else None
        if too_long:
            raise ImgconvError(too_long, path=src)
        dst = output_path(src, root, output=output, suffix=suffix, fmt=fmt, many=many)
        if dst != STDIO:
            problem = name_problem(dst) or stat_problem(dst)  # too long a name, a link loop
            if problem:
                hint = "; name the output with -o" if output is None and name_problem(dst) else ""
                raise ImgconvError(f"cannot write: {problem}{hint}", path=dst)
            key = real_path(dst)
            if key in seen:
                raise ImgconvError(_collision(seen[key], src, dst, fmt))
            seen[key] = src
            if key in inputs_resolved and not overwrite:
                raise ImgconvError(f"{dst}: output would overwrite an input (use --overwrite to allow it)")
            if exists(dst) and must_exist:
                if skip_existing:
                    skipped.append(Job(src, dst))
                    continue
                existing.append(dst)
        jobs.append(Job(src, dst, replace=overwrite))
    if existing and not overwrite:
        more = f", and {len(existing) - 1} more of the {len(found)} outputs" if len(existing) > 1 else ""
        raise ImgconvError(f"{existing[0]}: output exists{more} (use --overwrite or --skip-existing)")
    return JobPlan(jobs, skipped, ignored, many, [src for src, _ in found])


def _check_format(output, fmt, depth, many):
    """An output format the options name (``--format``, or ``-o FILE``) that is unknown or cannot
    hold ``depth`` fails the plan, before any image is read.  Outputs named after their inputs
    keep each input's format: that one is checked per image."""
    from imgconv.imageio import check_output

    if output not in (None, STDIO) and not many and kind(output) != "folder" \
            and not str(output).endswith(("/", os.sep)):
        check_output(output, depth=depth)  # -o FILE: its extension names the format
    elif fmt is not None:
        check_output(format=fmt, depth=depth)


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
