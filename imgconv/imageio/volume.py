"""Volumes: Z x Y x X [x C] stacks read from TIFF and ``.npy``, written as ImageJ TIFF or ``.npy``.

:func:`read_volume` gives a :class:`Volume` of float32 voxels (the numeric rule of
:mod:`~imgconv.imageio.picture`: 8-bit / 255, 16-bit / 65535, floats as they are):

* ``.npy``: a 2-D array is one plane, 3-D is Z x Y x X, 4-D is Z x Y x X x C;
* TIFF, through tifffile's first series and its axes: a multi-page TIFF's pages (axis I)
  or an ImageJ / OME-TIFF hyperstack's Z are the planes, its channels (C, or RGB samples S)
  the last axis; of any other axis (T beside Z, ...) the first index is kept, with a note.
  The voxel size is kept: ImageJ's ``spacing`` / ``unit`` and X/Y resolution, an OME-TIFF's
  ``PhysicalSize*``; and the rest of the ImageJ metadata except the display range;
* any other file: its frames (:mod:`~imgconv.imageio.frames`) as planes.

:func:`write_volume` writes ``.tif``/``.tiff`` as an ImageJ hyperstack (axes ZYX, ZCYX, or
ZYXS for 8-bit RGB) with the source's metadata and voxel size, 8/16-bit or float32; a
volume with alpha as a plain multi-page TIFF with unassociated alpha (ImageJ has none); or
``.npy``. The voxels a volume holds are limited by ``max_pixels``.

Examples
--------
>>> import io, numpy as np
>>> buffer = io.BytesIO()
>>> write_volume(buffer, np.linspace(0, 1, 24, dtype=np.float32).reshape(2, 3, 4), depth=16, format="tif",
...              spacing=(2.0, 0.5, 0.5), unit="um")
>>> volume = read_volume(buffer.getvalue())
>>> volume.voxels.shape, volume.depth, volume.spacing, volume.unit
((2, 3, 4), 16, (2.0, 0.5, 0.5), 'um')
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from imgconv.errors import ImageReadError, ImageWriteError
from imgconv.imageio import tiff
from imgconv.imageio.destination import label_of, output_extension, write_encoded
from imgconv.imageio.limits import DEFAULT_MAX_PIXELS
from imgconv.imageio.npy import MAGIC as NPY_MAGIC
from imgconv.imageio.npy import read_npy
from imgconv.imageio.picture import pixels_from_samples, to_integer

#: Output extensions of volumes.
VOLUME_EXTENSIONS = (".tif", ".tiff", ".npy")
#: ImageJ metadata that describes the shape (written anew) or the display range (stale after filtering).
_IMAGEJ_DROPPED = {"ImageJ", "images", "slices", "channels", "frames", "hyperstack", "min", "max", "Ranges"}
_PLANE_AXES = "ZIQT"  # the first of these a series has is the planes' axis
_CHANNEL_AXES = "CS"


@dataclass
class Volume:
    """A decoded volume and the facts about its source needed to write it back.

    ``voxels`` is float32 Z x Y x X or Z x Y x X x C; ``spacing`` the voxel size (z, y, x)
    in ``unit``, where known; ``imagej`` the ImageJ metadata kept for writing; ``rgb`` whether
    the channels are RGB samples (written as such, 8-bit).
    """

    voxels: np.ndarray
    depth: int = 8
    has_alpha: bool = False
    format: str | None = None
    spacing: tuple | None = None
    unit: str | None = None
    imagej: dict = field(default_factory=dict)
    rgb: bool = False
    notes: list = field(default_factory=list)
    path: str | None = None

    def __array__(self, dtype=None, copy=None):
        return np.array(self.voxels, dtype=dtype, copy=True) if copy else np.asarray(self.voxels, dtype=dtype)


def _layout(axes, shape):
    """How a tifffile series becomes Z x Y x X x C: ``(index, order, has_plane, has_channels, notes)``
    -- the index that keeps the first of every other axis, the order of the axes left, whether
    there is an axis of planes and one of channels, and notes about the axes dropped."""
    if "Y" not in axes or "X" not in axes:
        raise ValueError(f"axes {axes} have no Y and X")
    plane = next((a for a in _PLANE_AXES if a in axes), None)
    channels = [a for a in axes if a in _CHANNEL_AXES]
    if len(channels) > 1:
        raise ValueError("both C and S channel axes")
    keep = {"Y", "X"} | ({plane} if plane else set()) | set(channels)
    index, notes = [], []
    for a, n in zip(axes, shape):
        index.append(slice(None) if a in keep else 0)
        if a not in keep and n > 1:
            notes.append(f"axis {a} of {n}: only its first index was read")
    left = [a for a in axes if a in keep]
    wanted = ([plane] if plane else []) + ["Y", "X"] + channels
    return tuple(index), [left.index(a) for a in wanted], plane is not None, bool(channels), notes


def probe_volume(source):
    """The shape ``(Z, Y, X[, C])`` :func:`read_volume` would give, from the headers alone."""
    from imgconv.imageio.reading import _open_source

    label, fp = _open_source(source)
    with fp:
        head = fp.read(len(NPY_MAGIC))
        fp.seek(0)
        if head == NPY_MAGIC:
            found = []

            def shape_only(shape, dtype):
                found.append(shape)
                raise _HeaderRead

            try:
                read_npy(fp, label=label, check=shape_only)
            except _HeaderRead:
                return _npy_shape(found[0])
        if head[:4] in tiff.SIGNATURES:
            import tifffile

            with tiff._tifffile_log(), tifffile.TiffFile(fp) as tif:
                series = tif.series[0]
                index, order, has_plane, has_channels, _ = _layout(series.axes, series.shape)
                kept = [n for n, i in zip(series.shape, index) if i != 0]
                shape = tuple(kept[i] for i in order)
                return (shape if has_plane else (1,) + shape)
    from imgconv.imageio.frames import read_frames

    frames = read_frames(source)
    return (len(frames.pictures),) + frames.pictures[0].pixels.shape


class _HeaderRead(Exception):
    """Raised by :func:`probe_volume` to stop reading a ``.npy`` after its header."""


def _npy_shape(shape):
    return (1,) + tuple(shape) if len(shape) == 2 else tuple(shape)


def read_volume(source, *, max_pixels=DEFAULT_MAX_PIXELS):
    """Read a volume (see the module notes) into a :class:`Volume`.

    Raises
    ------
    ImageReadError
        Unreadable or corrupt data, an array that is not a volume, more voxels than
        ``max_pixels``, or TIFF pages of different sizes.
    """
    from imgconv.imageio.reading import read_by_kind

    return read_by_kind(source, max_pixels, npy=_read_npy_volume, tiff=_read_tiff_volume, other=_volume_of_frames)


def _check_voxels(shape, max_pixels, label):
    voxels = int(np.prod(shape[:3]))
    if voxels > max_pixels:
        raise ImageReadError(f"volume too large: {' x '.join(str(n) for n in shape[:3])} = {voxels} voxels exceeds "
                             f"the limit of {max_pixels} (--max-pixels)", label)


def _read_npy_volume(fp, label, max_pixels):
    def check(shape, dtype):
        if len(shape) not in (2, 3, 4) or (len(shape) == 4 and not 1 <= shape[3] <= 16) or 0 in shape:
            raise ImageReadError(f".npy array of shape {shape} is not a volume "
                                 "(Y x X, Z x Y x X or Z x Y x X x C, C <= 16)", label)
        _check_voxels(_npy_shape(shape), max_pixels, label)
        if dtype not in (np.bool_, np.uint8, np.uint16) and not np.issubdtype(dtype, np.floating):
            raise ImageReadError(f".npy dtype {dtype} is not supported (use uint8, uint16 or float)", label)

    array = read_npy(fp, label=label, check=check)
    voxels, depth = pixels_from_samples(array.reshape(_npy_shape(array.shape)), label)
    return Volume(np.ascontiguousarray(voxels), depth, format="NPY", path=label)


def _read_tiff_volume(fp, label, max_pixels):
    """A Volume of a TIFF's first series, or None when tifffile cannot parse the file."""

    with tiff.parsed(fp) as (tif, _):
        if tif is None:
            return None
        try:
            series = tif.series[0]
            index, order, has_plane, has_channels, notes = _layout(series.axes, series.shape)
        except (ValueError, IndexError) as exc:
            raise ImageReadError(f"cannot read the TIFF as a volume: {exc}", label) from None
        if len(tif.series) > 1:
            notes.append(f"{len(tif.series)} series (pages of different sizes): only the first was read")
        kept = [n for n, i in zip(series.shape, index) if i != 0]
        shape = tuple(kept[i] for i in order)
        _check_voxels(shape if has_plane else (1,) + shape, max_pixels, label)
        if int(np.prod(series.shape)) > 4 * max_pixels:  # the whole series is decoded
            raise ImageReadError(f"TIFF series too large: {' x '.join(map(str, series.shape))} ({series.axes}) "
                                 f"holds more than 4 x the limit of {max_pixels} voxels", label)
        try:
            samples = np.transpose(series.asarray(maxworkers=1)[index], order)
        except Exception as exc:  # noqa: BLE001 -- whatever the decoder raises on bad data
            raise ImageReadError(f"cannot decode the TIFF: {exc}", label) from None
        page = series.pages[0] if series.pages else tif.pages[0]
        has_alpha = has_channels and "S" in series.axes and 2 in tuple(page.extrasamples or ())
        spacing, unit, imagej = _tiff_voxel_size(tif, page)
    voxels, depth = pixels_from_samples(samples if has_plane else samples[None], label)
    return Volume(np.ascontiguousarray(voxels), depth, has_alpha=has_alpha, format="TIFF", spacing=spacing,
                  unit=unit, imagej=imagej, rgb="S" in series.axes and page.photometric == 2, notes=notes,
                  path=label)


def _tiff_voxel_size(tif, page):
    """``(spacing (z, y, x) or None, unit or None, ImageJ metadata kept)`` of a TIFF."""
    if tif.is_ome and tif.ome_metadata:
        pixels = re.search(r"<(?:\w+:)?Pixels\b([^>]*)>", tif.ome_metadata)
        if pixels:
            attrs = dict(re.findall(r'(\w+)="([^"]*)"', pixels.group(1)))
            sizes = [attrs.get(f"PhysicalSize{a}") for a in "ZYX"]
            if all(sizes[1:]):
                spacing = tuple(float(s) if s else 1.0 for s in sizes)
                return spacing, attrs.get("PhysicalSizeXUnit", "µm"), {}
    imagej = dict(tif.imagej_metadata or {}) if tif.is_imagej else {}
    xy = [_pixel_size(page.tags.valueof(code)) for code in (283, 282)]
    z = imagej.get("spacing")
    if not all(xy) and z is None:
        return None, imagej.get("unit"), _kept(imagej)
    y, x = (v or 1.0 for v in xy)
    return (float(z) if z else 1.0, y, x), imagej.get("unit"), _kept(imagej)


def _pixel_size(resolution):
    """1 / a resolution tag (pixels per unit), or None."""
    if isinstance(resolution, tuple) and len(resolution) == 2 and all(isinstance(n, int) for n in resolution):
        return resolution[1] / resolution[0] if resolution[0] and resolution[1] else None
    return None


def _kept(imagej):
    return {k: v for k, v in imagej.items() if k not in _IMAGEJ_DROPPED and k not in ("spacing", "unit")}


def _volume_of_frames(fp, label, max_pixels):
    from imgconv.imageio.frames import read_frames

    frames = read_frames(fp.read(), max_pixels=max_pixels)
    shapes = {p.pixels.shape for p in frames.pictures}
    if len(shapes) > 1:
        raise ImageReadError(f"its {len(frames.pictures)} frames differ in size: not a volume", label)
    first = frames.pictures[0]
    return Volume(np.stack([p.pixels for p in frames.pictures]), first.depth, has_alpha=first.has_alpha,
                  format=frames.format, notes=frames.notes, path=label)


def imagej_metadata(axes, kept=None, spacing=None, unit=None):
    """The ``metadata`` for ``tifffile.imwrite(..., imagej=True)``: ``axes``, the voxel depth and
    unit, and the kept ImageJ metadata."""
    metadata = {k: v for k, v in (kept or {}).items() if k not in _IMAGEJ_DROPPED}
    metadata["axes"] = axes
    if spacing is not None:
        metadata["spacing"] = float(spacing[0])
    if unit:
        metadata["unit"] = unit
    return metadata


def check_volume_destination(dest, format=None):
    """The extension of ``dest`` (or ``format``); ImageWriteError unless it can hold a volume."""
    extension = output_extension(dest, format)
    if extension not in VOLUME_EXTENSIONS:
        raise ImageWriteError(f"a volume is written as .tif, .tiff (ImageJ hyperstack) or .npy, not "
                              f"{extension or '(no extension)'}", label_of(dest))
    return extension


def write_volume(dest, voxels, *, like=None, depth=None, format=None, spacing=None, unit=None, overwrite=True):
    """Write a Z x Y x X [x C] volume of float voxels as an ImageJ TIFF or ``.npy``, atomically.

    ``like`` (a :class:`Volume`) gives the depth, alpha, RGB layout, voxel size and ImageJ
    metadata kept; ``spacing`` (z, y, x) and ``unit`` override its voxel size. ``depth`` is
    8, 16 or ``"float"`` (default: the source's; 8 without one).

    Raises
    ------
    ImageWriteError
        An extension other than ``.tif``, ``.tiff`` or ``.npy``, a bad array, or an OS error.
    """
    import tifffile

    label = label_of(dest)
    extension = check_volume_destination(dest, format)
    values = np.asarray(voxels)
    if values.ndim == 4 and values.shape[3] == 1:
        values = values[..., 0]
    if values.ndim not in (3, 4) or 0 in values.shape or not np.issubdtype(values.dtype, np.floating):
        raise ImageWriteError(f"voxels of shape {values.shape} and dtype {values.dtype} are not a float volume "
                              "(Z x Y x X or Z x Y x X x C)", label)
    depth = {"8": 8, "16": 16, "32": "float", 32: "float"}.get(depth, depth)
    if depth is None:
        depth = {8: 8, 16: 16, 32: "float"}.get(like.depth, 8) if like is not None else 8
    if depth not in (8, 16, "float"):
        raise ImageWriteError(f"depth must be 8, 16 or 'float', not {depth!r}", label)
    samples = (np.ascontiguousarray(values, np.float32) if depth == "float"
               else to_integer(values, 255 if depth == 8 else 65535))
    spacing = spacing if spacing is not None else (like.spacing if like is not None else None)
    unit = unit if unit is not None else (like.unit if like is not None else None)
    has_alpha = like.has_alpha if like is not None else False
    rgb = like is not None and like.rgb and depth == 8 and samples.ndim == 4 and samples.shape[3] == 3

    def encode(fp):
        if extension == ".npy":
            np.save(fp, samples, allow_pickle=False)
            return
        with tifffile.FileHandle(fp, mode="wb", name="volume.tif") as handle:
            if has_alpha and samples.ndim == 4:  # ImageJ has no alpha: a plain stack of RGBA pages
                with tifffile.TiffWriter(handle) as writer:
                    for plane in samples:
                        writer.write(plane, **tiff.page_options(plane))
                return
            axes = "ZYX" if samples.ndim == 3 else "ZYXS" if rgb else "ZCYX"
            data = samples if axes != "ZCYX" else np.moveaxis(samples, 3, 1)
            resolution = (1.0 / spacing[2], 1.0 / spacing[1]) if spacing else None
            tifffile.imwrite(handle, data, imagej=True, byteorder="<", resolution=resolution,
                             photometric="rgb" if rgb else "minisblack", software=False,
                             metadata=imagej_metadata(axes, like.imagej if like is not None else None, spacing, unit))

    write_encoded(dest, encode, replace=overwrite)
