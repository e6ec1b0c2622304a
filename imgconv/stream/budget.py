"""The memory budget of one image: ``--max-memory``, the working set, the strip height.

The working set is estimated from the image's header before anything is decoded: what the
decoder holds while it decodes, what stays in memory while the image is filtered (the
decoded samples, or nothing for a streamed TIFF or ``.npy``), and what the strips of the
pipeline and the encoder need for a strip height. The strip height is the largest (up to
:data:`STRIP_BYTES` of float rows) whose working set fits the budget; an image whose smallest
working set does not fit is refused before it is decoded.

Examples
--------
>>> parse_size("500M"), parse_size("2G"), parse_size("1.5k"), parse_size("4096")
(524288000, 2147483648, 1536, 4096)
>>> format_size(3 * 2**30)
'3.0 GiB'
"""
import os

from imgconv.errors import ImgconvError

_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
#: the default budget: this fraction of the memory available when the run starts, shared
#: by its worker processes (the rest is left to the system and to other programs)
DEFAULT_FRACTION = 0.5
#: what is assumed available where /proc/meminfo cannot tell
FALLBACK_AVAILABLE = 4 * 2**30
#: float bytes a strip of one stage aims at: large enough for the threads of the engine and
#: the encoder, small enough to stay well inside the caches of a streamed run
STRIP_BYTES = 8 * 2**20


def parse_size(text):
    """Bytes from ``500M``, ``2G``, ``1.5k``, ``64MiB``, ``4096`` (powers of 1024).

    Raises
    ------
    ImgconvError
        Not a size, or not positive.
    """
    value = str(text).strip().upper().removesuffix("B").removesuffix("I")
    unit = value[-1:] if value[-1:] in _UNITS else ""
    try:
        number = float(value[:len(value) - len(unit)])
    except ValueError:
        raise ImgconvError(f"--max-memory: {text!r} is not a size (e.g. 500M, 2G, or bytes)") from None
    if not number > 0 or number == float("inf"):
        raise ImgconvError(f"--max-memory: {text!r} must be a positive size")
    return int(number * _UNITS[unit])


def format_size(n):
    """``n`` bytes for people: ``512.0 MiB``, ``3.0 GiB``."""
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} bytes"


def available_memory():
    """Bytes of memory available now: ``MemAvailable`` of /proc/meminfo, else the free
    physical pages, else :data:`FALLBACK_AVAILABLE`."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return FALLBACK_AVAILABLE


def default_budget(workers=1):
    """The default ``--max-memory`` of each of ``workers`` processes."""
    return int(available_memory() * DEFAULT_FRACTION / max(1, workers))


def strip_rows(working_set, unit, most, budget):
    """The strip height for a budget: the most rows -- ``most`` itself, or a multiple of
    ``unit`` below it -- whose ``working_set(rows)`` fits ``budget``; None when none fits.

    Examples
    --------
    >>> strip_rows(lambda rows: 1000 + rows * 100, unit=8, most=500, budget=10_000)
    88
    >>> strip_rows(lambda rows: 1000 + rows * 100, unit=8, most=500, budget=1_500) is None
    True
    """
    if working_set(most) <= budget:
        return most
    if working_set(min(most, unit)) > budget:
        return None
    low, high = 1, -(-most // unit)  # in units: low fits, high does not
    while high - low > 1:
        middle = (low + high) // 2
        if working_set(middle * unit) <= budget:
            low = middle
        else:
            high = middle
    return low * unit


def one_malloc_arena():
    """Have every thread of this process allocate from glibc's main arena (``M_ARENA_MAX`` 1).

    The strips are computed in one thread and encoded in others; with an arena per thread, the
    memory one frees is kept for that thread alone and the process's RSS grows by a strip or
    two for each (measured: 4K PNG, 244 MB peak RSS against 196 MB). The command line calls
    this; a library process keeps its own allocator settings. No effect without glibc.
    """
    import ctypes

    try:
        libc = ctypes.CDLL(None)  # the process's own symbols: glibc's mallopt where glibc runs it
        libc.mallopt(-8, 1)  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass
