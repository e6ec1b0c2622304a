"""Reading and writing one huge image by regions: TIFF, ``.npy`` and zarr in, zarr and TIFF out.

A :class:`RegionSource` is a small picklable description of the input that Dask workers
open themselves (``dask.array.from_array`` slices it chunk by chunk): a ``.npy`` through a
read-only memory map, a TIFF through tifffile (a memory map when its samples are stored
contiguously, else its zarr view, which decodes only the strips or tiles a chunk needs),
a zarr array directly. Results go to a zarr folder (written by the workers) or a tiled TIFF
(written here, one row of chunks in memory at a time), both atomically.

Examples
--------
>>> import numpy as np, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "a.npy")
>>> np.save(path, np.arange(12, dtype=np.uint8).reshape(3, 4))
>>> source = open_source(path)
>>> source.kind, source.shape, source[1:, 2:].tolist()
('npy', (3, 4), [[6, 7], [10, 11]])
"""
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from imgconv.errors import ImageReadError, ImageWriteError, ImgconvError

#: output kinds by extension
OUTPUT_KINDS = {".zarr": "zarr", ".tif": "tiff", ".tiff": "tiff"}
_SAMPLE_TYPES = (np.bool_, np.uint8, np.uint16, np.float16, np.float32, np.float64)


def is_zarr(path):
    """Whether ``path`` is a zarr array folder (v2 ``.zarray`` or v3 ``zarr.json``)."""
    path = Path(path)
    return path.is_dir() and ((path / "zarr.json").is_file() or (path / ".zarray").is_file())


@dataclass(frozen=True)
class RegionSource:
    """The samples of one image, read region by region wherever it is unpickled.

    ``kind`` is ``"npy"``, ``"tiff"`` or ``"zarr"``; ``shape`` is (H, W) or (H, W, C).
    """

    path: str
    kind: str
    shape: tuple
    dtype: np.dtype

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def pixels(self):
        return self.shape[0] * self.shape[1]

    def __getitem__(self, index):
        if self.kind == "npy":
            return np.asarray(np.load(self.path, mmap_mode="r", allow_pickle=False)[index])
        if self.kind == "zarr":
            import zarr

            return np.asarray(zarr.open_array(self.path, mode="r")[index])
        import tifffile

        try:
            return np.asarray(tifffile.memmap(self.path, mode="r")[index])
        except ValueError:  # compressed or scattered samples: decode what the region needs
            import zarr

            with tifffile.TiffFile(self.path) as tif, tif.pages[0].aszarr() as store:
                return np.asarray(zarr.open_array(store, mode="r")[index])


def open_source(path):
    """A :class:`RegionSource` for a TIFF, ``.npy`` or zarr input, checked from its header."""
    path = Path(path)
    if is_zarr(path):
        try:
            import zarr
        except ImportError:
            raise ImgconvError("zarr inputs need zarr: pip install 'imgconv[dask]'") from None
        array = zarr.open_array(str(path), mode="r")
        shape, dtype = tuple(array.shape), np.dtype(array.dtype)
        kind = "zarr"
    elif path.suffix.lower() == ".npy":
        shape, dtype = _npy_header(path)
        kind = "npy"
    else:
        shape, dtype = _tiff_header(path)
        kind = "tiff"
    if len(shape) == 3 and shape[2] == 1:
        raise ImageReadError("H x W x 1 samples: store them as H x W", path)
    if len(shape) not in (2, 3) or (len(shape) == 3 and shape[2] > 4) or 0 in shape:
        raise ImageReadError(f"samples of shape {shape} are not an image (H x W or H x W x C, C <= 4)", path)
    if dtype.type not in _SAMPLE_TYPES:
        raise ImageReadError(f"samples of type {dtype} are not supported here (use uint8, uint16 or float)", path)
    return RegionSource(str(path.absolute()), kind, tuple(int(n) for n in shape), dtype)


def _npy_header(path):
    try:
        with open(path, "rb") as fp:
            version = np.lib.format.read_magic(fp)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read(fp)
    except (OSError, ValueError, SyntaxError, TypeError) as exc:
        raise ImageReadError(f"cannot read .npy header ({exc})", path) from None
    if fortran:
        raise ImageReadError("a Fortran-ordered .npy cannot be read by regions; save it in C order", path)
    return shape, np.dtype(dtype)


def _tiff_header(path):
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            page = tif.pages[0]
            orientation = page.tags.valueof(274, 1)
            separate = page.planarconfig != 1 and page.samplesperpixel > 1
            if len(tif.pages) > 1 or separate or orientation not in (1, None):
                raise ImageReadError("only single-page, unrotated TIFFs with interleaved samples are split "
                                     "across a cluster", path)
            return tuple(page.shape), np.dtype(page.dtype)
    except ImgconvError:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever tifffile raises on a file it cannot parse
        raise ImageReadError(f"cannot read TIFF header ({exc})", path) from None


def source_depth(dtype):
    """The depth :func:`imgconv.read_image` reports for samples of ``dtype``: 8, 16 or 32."""
    dtype = np.dtype(dtype)
    return 32 if dtype.kind == "f" else 16 if dtype == np.uint16 else 8


def to_samples(pixels, depth):
    """Output samples of float pixels, as :func:`imgconv.write_image` stores them."""
    from imgconv.imageio.picture import to_integer

    if depth == "float":
        return np.ascontiguousarray(pixels, dtype=np.float32)
    return to_integer(pixels, 255 if depth == 8 else 65535)


def output_kind(dst):
    """``"zarr"`` or ``"tiff"`` for an output path, else ImageWriteError."""
    kind = OUTPUT_KINDS.get(Path(dst).suffix.lower())
    if kind is None:
        raise ImageWriteError("a huge image split across a cluster is written as .zarr or .tif", dst)
    return kind


def _temporary(dst):
    dst = Path(dst)
    return dst.with_name(f".{dst.name}.{os.getpid()}.tmp")


def _replace(temporary, dst, overwrite):
    """Move ``temporary`` to ``dst`` (a folder replaces a folder only with ``overwrite``)."""
    dst = Path(dst)
    if dst.exists():
        if not overwrite:
            raise ImageWriteError("output exists (use --overwrite or --skip-existing)", dst)
        if dst.is_dir():
            shutil.rmtree(dst)
    os.replace(temporary, dst)


def write_zarr(samples, dst, compute, overwrite):
    """Write the Dask array ``samples`` as a zarr folder at ``dst`` (workers write the chunks);
    ``compute(delayed)`` runs the graph on the cluster."""
    temporary = _temporary(dst)
    try:
        compute(samples.to_zarr(str(temporary), compute=False))
        _replace(temporary, dst, overwrite)
    finally:
        if temporary.exists():
            shutil.rmtree(temporary, ignore_errors=True)


def write_tiled_tiff(samples, dst, gather, overwrite):
    """Write the Dask array ``samples`` as a tiled TIFF at ``dst``, one tile per chunk (its
    sides rounded up to multiples of 16); ``gather(i)`` computes row ``i`` of its chunks on the
    cluster."""
    import tifffile

    from imgconv.imageio.atomic import write_atomic

    (rows, cols) = samples.chunks[:2]
    tile = (-(-rows[0] // 16) * 16, -(-cols[0] // 16) * 16)  # TIFF tiles: multiples of 16
    channels = 1 if samples.ndim == 2 else samples.shape[2]

    def tiles():
        for i in range(len(rows)):
            for block in gather(i):
                full = np.zeros(tile + block.shape[2:], block.dtype)
                full[:block.shape[0], :block.shape[1]] = block
                yield full

    def encode(fp):
        with tifffile.FileHandle(fp, mode="wb", name="image.tif") as handle:
            tifffile.imwrite(handle, tiles(), shape=samples.shape, dtype=samples.dtype, tile=tile,
                             photometric="minisblack" if channels <= 2 else "rgb",
                             planarconfig="contig" if channels > 1 else None, byteorder="<",
                             extrasamples=("unassalpha",) if channels in (2, 4) else None,
                             bigtiff=samples.nbytes > 2**31, compression=None, metadata=None, software=False)

    if Path(dst).exists() and not overwrite:
        raise ImageWriteError("output exists (use --overwrite or --skip-existing)", dst)
    write_atomic(str(dst), encode)
