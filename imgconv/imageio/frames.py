"""Every frame of an animation (GIF, APNG, WebP) and every page of a multi-page TIFF, read and written back.

:func:`read_frames` gives a :class:`Frames`: one :class:`~imgconv.imageio.Picture` per
frame, all with the same channels (grey, grey+alpha, RGB or RGBA: the widest any frame
needs), and what it takes to write them back -- frame durations (ms), loop count and
disposal (GIF, APNG), blending (APNG), page order (TIFF), an ImageJ stack's layout and
metadata. Animations are decoded by Pillow, which composites each frame onto the canvas,
so every frame is a full picture; TIFF pages by tifffile when they are plain (16-bit and
float pages exactly, as :mod:`~imgconv.imageio.tiff` does for one page), else by Pillow.
Thumbnails (reduced-resolution pages) are not pages. The frames together may hold at
most ``max_pixels`` pixels.

:func:`write_frames` writes them as an animated GIF, APNG or WebP (8-bit), or a
multi-page TIFF (8, 16 or float32 samples; an ImageJ stack keeps its hyperstack layout
and metadata), atomically. Between GIF and APNG the disposal codes are translated; WebP
takes durations and loop only (Pillow's encoder has no disposal). Pillow merges
consecutive identical frames of a GIF or APNG into one longer frame.

Examples
--------
>>> import io
>>> from PIL import Image
>>> buffer = io.BytesIO()
>>> frames = [Image.new("L", (4, 3), v) for v in (10, 200)]
>>> frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=[50, 70], loop=0)
>>> stack = read_frames(buffer.getvalue())
>>> len(stack.pictures), stack.durations, stack.loop
(2, [50, 70], 0)
>>> out = io.BytesIO()
>>> write_frames(out, [p.pixels for p in stack.pictures], like=stack, format="gif")
>>> count_frames(out.getvalue())
(2, 'GIF')
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from imgconv.errors import ImageReadError, ImageWriteError
from imgconv.imageio import tiff
from imgconv.imageio.destination import label_of, output_extension, write_encoded
from imgconv.imageio.limits import DEFAULT_MAX_PIXELS, PILLOW_LIMIT, check_size
from imgconv.imageio.picture import Picture, pixels_from_samples, to_integer
from imgconv.imageio.png16 import PNG_COMPRESS_LEVEL

#: Output extensions that hold several frames, and their formats.
FRAME_FORMATS = {".gif": "GIF", ".png": "PNG", ".apng": "PNG", ".webp": "WEBP", ".tif": "TIFF", ".tiff": "TIFF"}
#: GIF disposal codes (0 unspecified, 1 keep, 2 background, 3 previous) from APNG's (0 none, 1 background,
#: 2 previous), and back.
_GIF_FROM_APNG = {0: 1, 1: 2, 2: 3}
_APNG_FROM_GIF = {0: 0, 1: 0, 2: 1, 3: 2}
_DEFAULT_DURATION = 100  # ms, for frames that had none (TIFF pages)


@dataclass
class Frames:
    """The frames of one file and what writing them back needs.

    ``durations`` (ms), ``disposal`` and ``blend`` have one entry per frame (None where the
    source format has none); ``loop`` is the loop count (0 = for ever, None = play once);
    ``imagej`` is ``(shape, axes, metadata)`` of an ImageJ stack the pages make up.
    """

    pictures: list
    format: str
    durations: list = field(default_factory=list)
    loop: int | None = None
    disposal: list | None = None
    blend: list | None = None
    imagej: tuple | None = None
    notes: list = field(default_factory=list)
    path: str | None = None


def _open(source):
    from imgconv.imageio.reading import _open_source

    return _open_source(source)


def count_frames(source):
    """``(frames, format)`` of an image from its headers: frames of an animation, pages of a TIFF
    (thumbnails not counted). ``(1, None)`` when neither Pillow nor tifffile can tell."""
    label, fp = _open(source)
    with fp, contextlib.suppress(Exception):
        if fp.read(4) in tiff.SIGNATURES:
            fp.seek(0)
            pages = _tiff_pages_count(fp)
            if pages:
                return pages, "TIFF"
        fp.seek(0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(fp) as im:
                return getattr(im, "n_frames", 1), im.format
    return 1, None


def _tiff_pages_count(fp):
    import tifffile

    with tiff._tifffile_log(), tifffile.TiffFile(fp) as tif:
        return sum(1 for page in tif.pages if not page.is_reduced)


def read_frames(source, *, max_pixels=DEFAULT_MAX_PIXELS):
    """Read every frame (page) of an image file into :class:`Frames`.

    Raises
    ------
    ImageReadError
        Unreadable, corrupt or unsupported data, or frames holding more than ``max_pixels``
        pixels together.
    """
    label, fp = _open(source)
    with fp:
        if fp.read(4) in tiff.SIGNATURES:
            fp.seek(0)
            frames = _read_tiff_pages(fp, label, max_pixels)
            if frames is not None:
                return frames
        fp.seek(0)
        return _read_with_pillow(fp, label, max_pixels)


def _check_total(count, width, height, max_pixels, label):
    check_size(width, height, max_pixels, label)
    if count * width * height > max_pixels:
        raise ImageReadError(f"too many frames: {count} frames of {width} x {height} hold {count * width * height} "
                             f"pixels, more than the limit of {max_pixels} (--frames first reads one)", label)


def _read_with_pillow(fp, label, max_pixels):
    from imgconv.imageio.reading import _pixels_from_mode, decoding_failure

    try:
        with warnings.catch_warnings(), PILLOW_LIMIT.at_least(max_pixels), Image.open(fp) as im:
            warnings.simplefilter("ignore")
            count = getattr(im, "n_frames", 1)
            _check_total(count, *im.size, max_pixels, label)
            fmt, icc, dpi = im.format, im.info.get("icc_profile") or None, im.info.get("dpi")
            frames = Frames([], fmt, loop=im.info.get("loop"), path=label,
                            disposal=[] if fmt in ("GIF", "PNG") else None, blend=[] if fmt == "PNG" else None)
            samples, depths = [], []
            for i in range(count):
                im.seek(i)
                im.load()
                pixels, depth, _ = _pixels_from_mode(im, label)
                samples.append(pixels)
                depths.append(depth)
                frames.durations.append(im.info.get("duration"))
                if fmt == "GIF":
                    frames.disposal.append(getattr(im, "disposal_method", 0))
                elif fmt == "PNG":
                    frames.disposal.append(im.info.get("disposal", 0))
                    frames.blend.append(im.info.get("blend", 0))
    except Exception as exc:  # noqa: BLE001 -- mapped to one message, or raised again
        raise decoding_failure(exc, label, max_pixels, "frame") from None
    dpi = tuple(float(v) for v in dpi) if dpi and all(v > 0 for v in dpi) else None
    frames.pictures = [Picture(p, depth=d, has_alpha=p.ndim == 3 and p.shape[2] in (2, 4), format=fmt,
                               icc_profile=icc, dpi=dpi, path=label) for p, d in zip(_same_channels(samples), depths)]
    return frames


def _read_tiff_pages(fp, label, max_pixels):
    """Frames of a TIFF whose pages tifffile decodes exactly, or None (Pillow's turn)."""

    from imgconv.imageio.reading import orient

    with tiff.parsed(fp) as (tif, remarks):
        if tif is None:
            return None
        try:
            pages = [page for page in tif.pages if not page.is_reduced]
            if not pages or remarks or not all(tiff._is_plain(page) for page in pages):
                return None
        except Exception:  # noqa: BLE001 -- a page tifffile cannot describe
            return None
        _check_total(len(pages), max(p.imagewidth for p in pages), max(p.imagelength for p in pages),
                     max_pixels, label)
        pictures = []
        for page in pages:
            try:
                samples = tiff._contiguous_samples(page.asarray(maxworkers=1), page.shaped)
            except Exception:  # noqa: BLE001 -- whatever the decoder raises on bad data
                return None
            pixels, depth = pixels_from_samples(samples, label)
            tags = page.tags
            icc = tags.valueof(34675)
            orientation = tags.valueof(274, 1)
            pixels = orient(pixels, orientation if isinstance(orientation, int) else 1)
            pictures.append(Picture(np.ascontiguousarray(pixels), depth=depth,
                                    has_alpha=pixels.ndim == 3 and pixels.shape[2] in (2, 4), format="TIFF",
                                    icc_profile=icc if isinstance(icc, bytes) and icc else None,
                                    dpi=tiff._dpi(tags), path=label))
        return Frames(pictures, "TIFF", durations=[None] * len(pages), imagej=_imagej_layout(tif, pages),
                      path=label)


def _imagej_layout(tif, pages):
    """``(shape, axes, metadata)`` of the ImageJ stack all ``pages`` make up, or None."""
    if not tif.is_imagej or len(tif.series) != 1:
        return None
    series = tif.series[0]
    if int(np.prod(series.shape[:-2])) != len(pages) or len({p.shape for p in pages}) != 1:
        return None
    return tuple(series.shape), series.axes, dict(tif.imagej_metadata or {})


def _same_channels(samples):
    """Frames with one channel layout: colour if any frame is colour, alpha if any has alpha."""
    def channels(p):
        return 1 if p.ndim == 2 else p.shape[2]

    alpha = any(channels(p) in (2, 4) for p in samples)
    colour = any(channels(p) >= 3 for p in samples)
    out = []
    for p in samples:
        planes = p if p.ndim == 3 else p[..., None]
        has_alpha = planes.shape[2] in (2, 4)
        colour_part = planes[..., :-1] if has_alpha else planes
        if colour and colour_part.shape[2] == 1:
            colour_part = np.repeat(colour_part, 3, axis=2)
        parts = [colour_part]
        if alpha:
            parts.append(planes[..., -1:] if has_alpha else np.ones(planes.shape[:2] + (1,), np.float32))
        joined = np.concatenate(parts, axis=2) if len(parts) > 1 else colour_part
        out.append(np.ascontiguousarray(joined[..., 0] if joined.shape[2] == 1 else joined))
    return out


def frames_format(dest, format=None):
    """The multi-frame format ``dest`` (or ``format``) names, or None when it holds one image only."""
    return FRAME_FORMATS.get(output_extension(dest, format))


def check_frames_destination(dest, count, format=None):
    """The multi-frame format of ``dest``; ImageWriteError when it holds one image only."""
    fmt = frames_format(dest, format)
    if fmt is None:
        shown = output_extension(dest, format) or "(no extension)"
        raise ImageWriteError(f"{shown} holds one image, not {count} frames "
                              "(write .gif, .png, .webp or .tif, or use --frames first)", label_of(dest))
    return fmt


def write_frames(dest, frames, *, like=None, depth=None, quality=None, format=None, overwrite=True):
    """Write several frames (float pixels, one array each) as one animated or multi-page file.

    Parameters
    ----------
    dest : str, os.PathLike or binary file object
        Output path (``.gif``, ``.png``/``.apng``, ``.webp``, ``.tif``/``.tiff``), ``"-"``
        or a file object (then ``format`` is needed).
    frames : list of array_like
        H x W or H x W x C float pixels in [0, 1] (2 and 4 channels carry alpha).
    like : Frames, optional
        The source: durations, loop, disposal, blending, ICC profile, DPI, depth, ImageJ layout.
    depth : {8, 16, "float"}, optional
        TIFF only (animations are 8-bit). Default: the source's, as :func:`write_image` does.
    quality : int, optional
        WebP quality (default 92).

    Raises
    ------
    ImageWriteError
        A format that holds one image only, a depth it cannot hold, or an OS error.
    """
    from imgconv.imageio.writing import DEFAULT_QUALITY, _as_float_pixels, _resolve_depth

    label = label_of(dest)
    fmt = check_frames_destination(dest, len(frames), format)
    pixels = [_as_float_pixels(f, label) for f in frames]
    first = like.pictures[0] if like is not None and like.pictures else None
    channels = 1 if pixels[0].ndim == 2 else pixels[0].shape[2]
    source_depth = first.depth if first is not None else 8
    if fmt != "TIFF" and depth not in (None, 8, "8"):
        raise ImageWriteError(f"animated {fmt} is written with 8 bits (got --depth {depth}; use .tif)", label)
    depth = _resolve_depth(fmt, depth, source_depth, channels, label)

    def encode(fp):
        if fmt == "TIFF":
            _encode_tiff(fp, pixels, depth, like, first)
        else:
            _encode_animation(fp, fmt, pixels, like, quality or DEFAULT_QUALITY)

    write_encoded(dest, encode, replace=overwrite)


def _encode_animation(fp, fmt, pixels, like, quality):
    """GIF, APNG or WebP through Pillow, 8-bit, with the source's timing."""
    samples = [to_integer(p, 255) for p in pixels]
    if fmt in ("GIF", "WEBP"):  # neither has grey+alpha; WebP no grey
        samples = [s[:, :, [0, 0, 0, 1]] if s.ndim == 3 and s.shape[2] == 2 else s for s in samples]
    if fmt == "WEBP":
        samples = [np.dstack([s, s, s]) if s.ndim == 2 else s for s in samples]
    images = [Image.fromarray(np.ascontiguousarray(s)) for s in samples]
    n = len(images)
    durations = like.durations if like is not None and len(like.durations) == n else [None] * n
    options = {"save_all": True, "append_images": images[1:],
               "duration": [int(round(d)) if d else _DEFAULT_DURATION for d in durations]}
    loop = like.loop if like is not None else 0
    if loop is not None or fmt != "GIF":  # a GIF without a loop count plays once
        options["loop"] = int(loop or 0)
    disposal = _disposal(fmt, like, n)
    if disposal is not None:
        options["disposal"] = disposal
    if fmt == "PNG":
        options["compress_level"] = PNG_COMPRESS_LEVEL
        if like is not None and like.blend is not None and len(like.blend) == n:
            options["blend"] = like.blend
    if fmt == "WEBP":
        options["quality"] = int(quality)
    images[0].save(fp, format=fmt, **options)


def _disposal(fmt, like, n):
    """The disposal codes for ``fmt`` from the source's (translated between GIF and APNG), or None."""
    if like is None or like.disposal is None or len(like.disposal) != n or fmt not in ("GIF", "PNG"):
        return None
    if like.format == fmt:
        return list(like.disposal)
    table = _GIF_FROM_APNG if fmt == "GIF" else _APNG_FROM_GIF
    return [table.get(code, 0 if fmt == "PNG" else 1) for code in like.disposal]


def _encode_tiff(fp, pixels, depth, like, first):
    """Pages in order: an ImageJ stack keeps its layout and metadata; other pages are written one by one."""
    import tifffile

    if depth == "float":
        samples = [np.ascontiguousarray(p, dtype=np.float32) for p in pixels]
    else:
        samples = [to_integer(p, 255 if depth == 8 else 65535) for p in pixels]
    icc = first.icc_profile if first is not None else None
    dpi = first.dpi if first is not None else None
    layout = like.imagej if like is not None else None
    if layout is not None and len({s.shape for s in samples}) == 1 and int(np.prod(layout[0][:-2])) == len(samples):
        shape, axes, metadata = layout
        stack = np.stack(samples)
        if stack.ndim == 3 or stack.shape[-1] == shape[-1]:
            from imgconv.imageio.volume import imagej_metadata

            with tifffile.FileHandle(fp, mode="wb", name="stack.tif") as handle:
                tifffile.imwrite(handle, stack.reshape(shape), imagej=True, byteorder="<",
                                 metadata=imagej_metadata(axes, metadata), software=False)
            return
    with tifffile.FileHandle(fp, mode="wb", name="pages.tif") as handle, tifffile.TiffWriter(handle) as writer:
        for page in samples:
            writer.write(page, **tiff.page_options(page, icc, dpi))
