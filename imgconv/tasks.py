"""Per-file tasks: read one image, process it, write the result atomically.

Each task is a small picklable object called with a :class:`imgconv.batch.Job`,
so the same code runs inline, in worker processes, or on a Dask cluster.

Examples
--------
>>> task = FilterTask(kernels=("gaussian:sigma=2",))
>>> task.options["mode"]
'reflect'
"""
from dataclasses import dataclass, field


@dataclass
class FilterTask:
    """``imgconv filter`` for one file: kernels (specs) and the filter options."""

    kernels: tuple
    options: dict = field(default_factory=lambda: {"mode": "reflect"})
    depth: object = None
    quality: int = None
    fmt: str = None
    max_pixels: int = None

    def __call__(self, job):
        from imgconv.filtering import filter_image
        from imgconv.imageio import read_image, write_image

        picture = read_image(job.src, **_limit(self.max_pixels))
        result = filter_image(picture, self.kernels, **self.options)
        _make_parent(job.dst)
        write_image(job.dst, result, depth=self.depth, like=picture, quality=self.quality,
                    format=self.fmt if job.dst == "-" else None)  # a file's extension names its format
        return picture.notes


def _make_parent(dst):
    """Create the output's folder (mirrored trees under ``-o DIR``)."""
    from pathlib import Path

    if dst != "-":
        Path(dst).parent.mkdir(parents=True, exist_ok=True)


def _limit(max_pixels):
    return {} if max_pixels is None else {"max_pixels": max_pixels}
