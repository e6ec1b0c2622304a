"""Row sources: an input image as random-access rows of float pixels, decoded as late as possible.

* A plain TIFF or BigTIFF (what :func:`imgconv.imageio.tiff.is_plain` accepts, orientation 1)
  is read from its file segment by segment: uncompressed strips row by row, compressed strips
  and tiles one row of segments at a time (the last few kept), by tifffile's decoders.
* A ``.npy`` file is memory-mapped (:func:`imgconv.imageio.reading.read_samples`).
* Anything else (PNG, JPEG, WebP, ..., and standard input) is decoded whole, but only to its
  8- or 16-bit samples (:func:`~imgconv.imageio.reading.read_samples`), never to a float copy.

Every source converts the rows asked for with
:func:`~imgconv.imageio.picture.pixels_from_samples`, element by element, so its rows equal
those of :func:`imgconv.read_image`. :func:`open_input` reads the header first: the
:class:`Layout` it reports (before any pixel is decoded) is what the memory budget is
estimated from.

Examples
--------
>>> import os, tempfile, numpy as np
>>> from imgconv.imageio import read_image, write_image
>>> path = os.path.join(tempfile.mkdtemp(), "ramp.tif")
>>> write_image(path, np.linspace(0, 1, 60, dtype=np.float32).reshape(5, 4, 3), depth=16)
>>> with open_input(path) as source:
...     rows = source.pixels(2, 4)
...     source.layout.streamed, source.layout.itemsize, rows.shape
(True, 2, (2, 4, 3))
>>> bool(np.array_equal(rows, read_image(path).pixels[2:4]))
True
"""
import contextlib
import os
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from imgconv.errors import ImageReadError
from imgconv.imageio.limits import DEFAULT_MAX_PIXELS, check_size
from imgconv.imageio.picture import Picture, check_float32_range, native_samples, pixels_from_samples

#: rows of a streamed source looked at a time when the whole of it must be checked
SCAN_ROWS = 256


@dataclass(frozen=True)
class Layout:
    """What a header tells before decoding, for the memory budget.

    ``channels`` and ``itemsize``: the decoded samples per pixel and bytes per sample;
    ``decode_bytes``: the most the decoder holds while decoding (0 when streamed);
    ``held_bytes``: what stays in memory while the image is filtered (the decoded samples,
    or the few segments a streamed TIFF keeps).
    """

    height: int
    width: int
    channels: int
    itemsize: int
    decode_bytes: int
    held_bytes: int
    streamed: bool


class Input(contextlib.AbstractContextManager):
    """An opened input: its :attr:`layout` now, its rows after :meth:`load` (or the first
    :meth:`pixels`). A context manager: leaving it closes the file of a streamed TIFF."""

    def __init__(self, layout, load, close=lambda: None):
        self.layout, self._load, self._close = layout, load, close
        self.picture = None  # the facts: depth, alpha, format, ICC, DPI, notes; pixels = samples

    def load(self):
        """Decode what must be decoded now (whole images); returns the :class:`Picture` of samples.
        float64 samples of a streamed source are checked against float32's range first, as
        :func:`imgconv.read_image` checks them (the same message)."""
        if self.picture is None:
            picture = self._load()
            if self.layout.streamed and self.layout.itemsize > 4:
                check_float32_range(picture.pixels, picture.path, rows=SCAN_ROWS)
            self.picture = picture
        return self.picture

    @property
    def shape(self):
        return self.load().pixels.shape

    @property
    def has_alpha(self):
        return self.load().has_alpha

    @property
    def depth(self):
        return self.load().depth

    def pixels(self, a, b):
        """float32 pixels of rows ``a..b``, as :func:`imgconv.read_image` gives them."""
        picture = self.load()
        return pixels_from_samples(np.asarray(picture.pixels[a:b]), picture.path)[0]

    def __exit__(self, *exc):
        self._close()


def open_input(src, *, max_pixels=DEFAULT_MAX_PIXELS, data=None):
    """Open ``src`` (a path; or ``data``, the bytes read from standard input, with ``src``
    its label) and read its header: an :class:`Input`."""
    from imgconv.imageio import tiff
    from imgconv.imageio.npy import MAGIC as NPY_MAGIC
    from imgconv.imageio.reading import read_samples

    if data is not None:
        return _whole(data, src, max_pixels, extra=len(data.getbuffer()))
    try:
        with open(src, "rb") as fp:
            head = fp.read(8)
    except OSError:  # read_samples says what is wrong, in its words
        head = b""
    if head.startswith(NPY_MAGIC):  # (read_samples allows only bool, uint8, uint16 and floats)
        picture = read_samples(src, max_pixels=max_pixels, mmap=True)
        layout = _layout(picture.pixels.shape, picture.pixels.dtype.itemsize, decode=0, held=0, streamed=True)
        return Input(layout, lambda: picture)
    if head[:4] in tiff.SIGNATURES:
        rows = TiffRows.open(src, max_pixels)
        if rows is not None:
            return Input(rows.layout, rows.picture, rows.close)
    return _whole(src, src, max_pixels)


def _layout(shape, itemsize, *, decode, held, streamed):
    height, width = shape[:2]
    return Layout(height, width, 1 if len(shape) == 2 else shape[2], itemsize, decode, held, streamed)


def _whole(source, label, max_pixels, extra=0):
    """An input decoded whole (to samples) by :func:`read_samples`, with its layout from the header."""
    from imgconv.imageio.reading import read_samples

    height, width, channels, itemsize, peak = _decoded_size(source, label, max_pixels)
    samples = height * width * channels * itemsize
    layout = Layout(height, width, channels, itemsize, peak * height * width + extra, samples + extra, False)
    return Input(layout, lambda: read_samples(source, max_pixels=max_pixels))


def _decoded_size(source, label, max_pixels):
    """``(height, width, channels, itemsize, peak bytes a pixel while decoding)`` from the header."""
    import io
    import warnings

    from PIL import Image

    from imgconv.imageio.limits import PILLOW_LIMIT
    from imgconv.imageio.pillow16 import is_16bit_colour

    fp = source if hasattr(source, "read") else None
    try:
        with warnings.catch_warnings():  # Pillow's remarks become notes when the image is decoded
            warnings.simplefilter("ignore")
            with PILLOW_LIMIT.at_least(max_pixels), Image.open(fp or source) as im:
                width, height = im.size
                mode, transparency = im.mode, im.info.get("transparency") is not None
                sixteen = is_16bit_colour(im)
    except Exception:  # noqa: BLE001 -- not Pillow's: a TIFF only tifffile reads, or bad data
        return _tiff_size(source, label, max_pixels)
    finally:
        if isinstance(fp, io.IOBase):
            fp.seek(0)
    check_size(width, height, max_pixels, label)
    if sixteen:  # two Pillow images of 4 bytes a pixel, one 8-bit copy of each, the uint16 samples (pillow16)
        channels = 4 if mode == "RGBA" or transparency else 3
        return height, width, channels, 2, 8 + 4 * channels + 2 * transparency * channels
    channels = {"1": 1, "L": 1, "P": 3, "I": 1, "F": 1, "LA": 2, "La": 2, "RGBA": 4, "RGBa": 4}.get(mode, 3)
    channels = min(4, channels + transparency) if mode not in ("LA", "La", "RGBA", "RGBa") else channels
    itemsize = 4 if mode == "F" else 2 if mode == "I" or mode.startswith("I;16") else 1
    stored = 1 if mode in ("1", "L", "P") else 2 if mode.startswith("I;16") else 4  # Pillow's bytes a pixel
    # the decoded image, a converted or transposed copy of it, and the samples (via int32 for "I")
    return height, width, channels, itemsize, 2 * stored + 4 + channels * (itemsize + 4 * (mode == "I"))


def _tiff_size(source, label, max_pixels):
    """The header of a TIFF only tifffile decodes, assuming 4 samples of 4 bytes (read whole,
    then reshaped: twice that while decoding); 1 x 1 for data no reader knows (it is refused)."""
    from imgconv.imageio import tiff

    with contextlib.suppress(OSError), (contextlib.nullcontext(source) if hasattr(source, "read")
                                        else open(source, "rb")) as fp:
        found = tiff.probe_tiff(fp)
        if hasattr(source, "seek"):
            source.seek(0)
        if found is not None:
            height, width, grey = found
            check_size(width, height, max_pixels, label)
            return height, width, 1 if grey else 4, 4, 2 * (1 if grey else 4) * 4
    return 1, 1, 4, 4, 0


def streamable_dtype(dtype):
    """Whether rows of samples of ``dtype`` convert alone as the whole image does: bool, uint8,
    uint16 and floats (other integers are checked against 0..65535 as a whole)."""
    dtype = np.dtype(dtype)
    return dtype.kind in "bf" or (dtype.kind == "u" and dtype.itemsize <= 2)


class TiffRows:
    """The first page of a plain TIFF, read from its file a row of segments at a time."""

    KEEP = 3  # rows of segments kept decoded: a strip of the pipeline and its halo span a few

    @classmethod
    def open(cls, path, max_pixels):
        """A TiffRows for ``path``, or None when its first page is not plain (then it is
        decoded whole, by tifffile or Pillow)."""
        import tifffile

        from imgconv.imageio import tiff

        with tiff.tifffile_log() as remarks:
            try:
                tif = tifffile.TiffFile(path)
            except Exception:  # noqa: BLE001 -- not for tifffile: the whole-image reader explains
                return None
            try:
                page = tif.pages[0]
                plain = tiff.is_plain(page) and not remarks and page.tags.valueof(274, 1) in (1, None) \
                    and streamable_dtype(page.dtype)
                pages = len(tif.pages) if plain else 0
            except Exception:  # noqa: BLE001 -- a page tifffile cannot describe
                plain = False
            if not plain or remarks:
                tif.close()
                return None
        try:
            check_size(page.imagewidth, page.imagelength, max_pixels, path)
            return cls(path, tif, page, pages)
        except BaseException:
            tif.close()
            raise

    def __init__(self, path, tif, page, pages):
        self.path, self.tif, self.page, self.pages = path, tif, page, pages
        planes, _, height, width, contiguous = page.shaped
        self.planes, self.contiguous = (planes, contiguous) if page.planarconfig == 2 else (1, contiguous)
        channels = planes * contiguous
        self.shape = (height, width) if channels == 1 else (height, width, channels)
        self.dtype = np.dtype(tif.byteorder + page.dtype.char)
        self.tiled = page.is_tiled
        self.segment_rows = page.tilelength if self.tiled else min(page.rowsperstrip or height, height)
        self.segment_cols = page.tilewidth if self.tiled else width
        self.across = -(-width // self.segment_cols)
        self.down = -(-height // self.segment_rows)
        # uncompressed strips: any rows can be read where they lie, without a whole strip
        self.raw = not self.tiled and page.compression == 1 and self.contiguous == channels
        self._fd = os.open(path, os.O_RDONLY)
        self._bands = OrderedDict()  # row of segments -> future of its samples
        self._pool = None  # the thread that decodes ahead
        band = self.segment_rows * width * channels * self.dtype.itemsize
        held = 0 if self.raw else (self.KEEP + 1) * band + 2 * max(page.databytecounts)
        self.layout = _layout(self.shape, self.dtype.itemsize, decode=0, held=held, streamed=True)

    def picture(self):
        """The facts of the page, as :func:`imgconv.read_image` reads them; ``pixels`` is self."""
        from imgconv.imageio import tiff
        from imgconv.imageio.reading import frames_note, positive_dpi

        tags = self.page.tags
        icc = tags.valueof(34675)
        return Picture(self, depth=native_samples(np.empty(0, self.dtype))[1],
                       has_alpha=len(self.shape) == 3 and self.shape[2] in (2, 4), format="TIFF",
                       icc_profile=icc if isinstance(icc, bytes) and icc else None,
                       dpi=positive_dpi(tiff.resolution_dpi(tags)), notes=frames_note("TIFF", self.pages),
                       path=self.path)

    def close(self):
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        os.close(self._fd)
        self.tif.close()

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, rows):
        """Samples of ``rows`` (a slice of rows), in the file's dtype."""
        a, b, _ = rows.indices(self.shape[0])
        if b <= a:
            return np.empty((0,) + self.shape[1:], self.dtype)
        if self.raw:
            return self._raw_rows(a, b)
        first, last = a // self.segment_rows, (b - 1) // self.segment_rows
        bands = [self._band(i) for i in range(first, last + 1)]
        block = bands[0] if len(bands) == 1 else np.concatenate(bands)
        return block[a - first * self.segment_rows:b - first * self.segment_rows]

    def _read(self, index):
        offset, count = self.page.dataoffsets[index], self.page.databytecounts[index]
        data = os.pread(self._fd, count, offset)
        if len(data) != count:
            raise ImageReadError(f"cannot decode image: truncated TIFF (segment {index})", self.path)
        return data

    def _raw_rows(self, a, b):
        width = self.shape[1]
        row_bytes = width * self.contiguous * self.dtype.itemsize
        parts = []
        for strip in range(a // self.segment_rows, (b - 1) // self.segment_rows + 1):
            top = strip * self.segment_rows
            lo, hi = max(a, top) - top, min(b, top + self.segment_rows) - top
            data = os.pread(self._fd, (hi - lo) * row_bytes, self.page.dataoffsets[strip] + lo * row_bytes)
            if len(data) != (hi - lo) * row_bytes:
                raise ImageReadError("cannot decode image: truncated TIFF", self.path)
            parts.append(np.frombuffer(data, self.dtype))
        return np.concatenate(parts).reshape((b - a,) + self.shape[1:])

    def _band(self, index):
        """Decoded samples of the index-th row of segments; the next row of segments is decoded
        meanwhile in a thread of its own (zlib releases the GIL), as the pipeline goes down."""
        for wanted in (index, index + 1):
            if wanted not in self._bands and wanted < self.down:
                self._bands[wanted] = self._reader().submit(self._decode_band, wanted)
        self._bands.move_to_end(index)
        band = self._bands[index].result()
        while len(self._bands) > self.KEEP + 1:  # (and the one ahead)
            self._bands.popitem(last=False)
        return band

    def _reader(self):
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(1)
        return self._pool

    def _decode_band(self, index):
        height, width = self.shape[:2]
        rows = min(self.segment_rows, height - index * self.segment_rows)
        band = np.empty((rows, width, self.planes * self.contiguous), self.dtype)
        per_plane = self.down * self.across
        for plane in range(self.planes):
            for across in range(self.across):
                segment = plane * per_plane + index * self.across + across
                try:
                    data, _, _ = self.page.decode(self._read(segment), segment, jpegtables=self.page.jpegtables)
                except ImageReadError:
                    raise
                except Exception as exc:  # noqa: BLE001 -- whatever the codec raises on bad data
                    raise ImageReadError(f"cannot decode image: {exc}", self.path) from None
                x0 = across * self.segment_cols
                cols = min(self.segment_cols, width - x0)
                data = np.asarray(data).reshape(-1, self.segment_cols, self.contiguous)
                band[:, x0:x0 + cols, plane * self.contiguous:(plane + 1) * self.contiguous] = data[:rows, :cols]
        return band[..., 0] if len(self.shape) == 2 else band
