"""Row sinks: the quantised strips of the pipeline encoded as they arrive.

* PNG: imgconv's own writer (:class:`imgconv.imageio.png16.PngWriter`), IDAT by IDAT, its
  pieces deflated in parallel.
* TIFF: tifffile's :class:`~tifffile.TiffWriter` from an iterator of strips (one TIFF strip
  per pipeline strip), BigTIFF when the pixels pass 4 GB.
* ``.npy``: the header, then the rows.
* Other formats (JPEG, WebP, BMP, GIF): collected into one array of samples -- never floats
  -- and encoded whole by :func:`imgconv.imageio.writing.encode_samples`.

Files are published as :func:`imgconv.write_image` publishes them (one writer: a temporary
file, then renamed -- or, without ``--overwrite``, hard-linked so that no file is replaced);
standard output gets the bytes as they are encoded (a TIFF, whose writer seeks, once it is
complete).

Examples
--------
>>> import io, numpy as np
>>> from imgconv.imageio import read_image
>>> from imgconv.imageio.writing import resolve_target
>>> buffer = io.BytesIO()
>>> strips = iter([np.zeros((2, 3), np.uint8), np.full((1, 3), 255, np.uint8)])
>>> write_strips(buffer, resolve_target(buffer, (3, 3), format="tif"), (3, 3), np.uint8, strips, rows=2)
>>> read_image(buffer.getvalue()).pixels[:, 0].tolist()
[0.0, 0.0, 1.0]
"""
import numpy as np

#: the formats written strip by strip; the others are collected and encoded whole
STREAMED_FORMATS = ("PNG", "TIFF", "NPY")
#: tifffile's rule for BigTIFF: data beyond this many bytes
BIGTIFF_BYTES = 2**32 - 2**25


def write_strips(dest, target, shape, dtype, strips, *, rows, threads=1, overwrite=True):
    """Encode ``strips`` (arrays of samples of ``dtype``, ``rows`` rows each but the last,
    together ``shape``) into ``dest`` as ``target`` says
    (:func:`imgconv.imageio.writing.resolve_target`), published as every image is
    (:func:`imgconv.imageio.destination.write_encoded`: atomically, never over an existing file
    unless ``overwrite``)."""
    from imgconv.imageio.destination import is_stream, write_encoded

    encoders = {"PNG": _png, "TIFF": _tiff, "NPY": _npy}
    encoder = encoders.get(target.format, _whole)
    # tifffile seeks back to write its offsets: a TIFF for a stream is encoded into memory first
    buffered = target.format not in STREAMED_FORMATS or (is_stream(dest) and target.format == "TIFF")
    write_encoded(dest, lambda fp: encoder(fp, target, shape, np.dtype(dtype), strips, rows, threads),
                  replace=overwrite, buffered=buffered)


def sink_bytes(target_format, shape, itemsize, rows, threads=1):
    """Bytes the sink of ``target_format`` holds for strips of ``rows`` rows of ``shape``."""
    from imgconv.imageio.png16 import PIECE_BYTES

    height, width = shape[:2]
    channels = 1 if len(shape) == 2 else shape[2]
    if target_format not in STREAMED_FORMATS:  # the samples, then the encoder's image of them
        return height * width * (channels * itemsize + 4)
    strip = rows * width * channels * itemsize
    if target_format == "PNG":  # the filtered rows, and the pieces being deflated
        return 2 * strip + (threads + 2) * 2 * PIECE_BYTES
    return strip  # tifffile and NumPy take the bytes as they are


def _png(fp, target, shape, dtype, strips, rows, threads):
    from imgconv.imageio.png16 import PngWriter

    channels = 1 if len(shape) == 2 else shape[2]
    with PngWriter(fp, shape[1], shape[0], channels, target.depth, target.icc, target.dpi, threads) as png:
        for strip in strips:
            png.write(strip)


def _tiff(fp, target, shape, dtype, strips, rows, threads):
    import tifffile

    from imgconv.imageio.tiff import page_options

    big = np.prod(shape, dtype=np.int64) * dtype.itemsize > BIGTIFF_BYTES
    little = dtype.newbyteorder("<")
    with tifffile.FileHandle(fp, mode="wb", name="image.tif") as handle, \
            tifffile.TiffWriter(handle, bigtiff=bool(big), byteorder="<") as tif:
        options = page_options(np.empty((0, 0) + tuple(shape[2:])), target.icc, target.dpi)  # its layout
        tif.write((np.ascontiguousarray(strip, little).tobytes() for strip in strips), shape=shape, dtype=little,
                  rowsperstrip=rows, **options)


def _npy(fp, target, shape, dtype, strips, rows, threads):
    np.lib.format.write_array_header_1_0(
        fp, {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": tuple(shape)})
    for strip in strips:
        fp.write(np.ascontiguousarray(strip, dtype).data)


def _whole(fp, target, shape, dtype, strips, rows, threads):
    from imgconv.imageio.writing import encode_samples

    samples = np.empty(shape, dtype)
    start = 0
    for strip in strips:
        samples[start:start + len(strip)] = strip
        start += len(strip)
    encode_samples(fp, target, samples)
