"""Pictures of kernels: the matrix, its frequency-response magnitude and 1-D profiles.

Needs matplotlib (the ``plot`` extra), imported only when a figure is drawn, with the
non-interactive Agg renderer. The PNG is written atomically and never over an existing
file unless asked (:func:`imgconv.imageio.atomic.write_atomic`).

Examples
--------
>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "sobel.png")
>>> plot_kernel("sobel", path)  # doctest: +SKIP
"""
import io
import math
import os

import numpy as np

from imgconv.errors import ImageWriteError, ImgconvError
from imgconv.kernels import load_kernel
from imgconv.response import applied_matrices, response_summary

__all__ = ["plot_kernel", "render_kernel", "require_matplotlib"]

_COMBINE = {"magnitude": "√(Σ result²): the magnitude of the results", "sum": "the sum of the results",
            "max": "the element-wise maximum of the results"}
_GRID = 256  # samples per axis of the 2-D response (plus the +0.5 edge)
_PROFILE = 1025
_FLOOR_DB = -80.0  # dB below the peak shown in --db pictures


def require_matplotlib(what="plotting"):
    """Import matplotlib quietly (no font-cache or cache-folder chatter); ImgconvError if missing."""
    import logging
    import warnings

    logger = logging.getLogger("matplotlib")
    level = logger.level
    logger.setLevel(logging.ERROR)  # the first import may log about building its font cache
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure
    except ImportError:
        raise ImgconvError(f"{what} needs matplotlib: pip install 'imgconv[plot]'") from None
    finally:
        logger.setLevel(level)

    def agg_figure(**options):  # the Agg renderer, without touching pyplot's global backend
        fig = Figure(**options)
        FigureCanvasAgg(fig)
        return fig

    return agg_figure


def _cell_text(v):
    if v == 0:
        return "0"
    if float(v).is_integer() and abs(v) < 1e4:
        return str(int(v))
    return f"{v:.3g}" if abs(v) >= 1e-3 else f"{v:.1e}"


def _profile(p, anchor, f):
    n = np.arange(len(p)) - anchor
    return np.abs(np.exp(-2j * np.pi * np.outer(f, n)) @ p)


def _to_db(mag, peak):
    floor = peak * 10 ** (_FLOOR_DB / 20) if peak > 0 else 1e-300
    return 20 * np.log10(np.maximum(mag, floor))


def _draw_matrix(fig, ax, k):
    h, w = k.shape
    vmax = float(np.abs(k).max()) or 1.0
    im = ax.imshow(k, cmap="RdBu_r", vmin=-vmax, vmax=vmax, interpolation="nearest")
    fig.colorbar(im, ax=ax, shrink=0.85, label="value (0 = white)")
    c0, c1 = h // 2, w // 2
    step = max(1, math.ceil(max(h, w) / 9))
    ax.set_xticks(range(0, w, step), [str(i - c1) for i in range(0, w, step)])
    ax.set_yticks(range(0, h, step), [str(i - c0) for i in range(0, h, step)])
    ax.set_xlabel("x offset from the anchor (columns)")
    ax.set_ylabel("y offset (rows, + = down)")
    if h <= 9 and w <= 9:
        size = 11 if max(h, w) <= 5 else 8
        for (i, j), v in np.ndenumerate(k):
            ax.text(j, i, _cell_text(float(v)), ha="center", va="center", fontsize=size,
                    color="white" if abs(v) > 0.6 * vmax else "black")
    total = float(k.sum())
    total = 0.0 if abs(total) <= 1e-12 * float(np.abs(k).sum()) else total
    ax.set_title(f"kernel {h}x{w} (H x W), sum {total:.4g}")


def _draw_response(fig, ax, k, db):
    from imgconv.response import frequency_response

    grid = np.abs(np.fft.fftshift(frequency_response(k, (_GRID, _GRID))))
    grid = np.concatenate([grid, grid[:1]], 0)
    grid = np.concatenate([grid, grid[:, :1]], 1)  # -0.5 ... +0.5 inclusive (the response is periodic)
    peak = float(grid.max())
    shown = _to_db(grid, peak) if db else grid
    half = 0.5 / _GRID
    extent = (-0.5 - half, 0.5 + half, 0.5 + half, -0.5 - half)
    im = ax.imshow(shown, cmap="magma", extent=extent, interpolation="bilinear")
    fig.colorbar(im, ax=ax, shrink=0.85)
    if peak > 0 and grid.min() < peak / math.sqrt(2) < peak:
        f = np.linspace(-0.5, 0.5, _GRID + 1)
        level = _to_db(np.array(peak / math.sqrt(2)), peak) if db else peak / math.sqrt(2)
        ax.contour(f, f, shown, levels=[level], colors="white", linewidths=1, linestyles="--")
    ax.set_xlabel("fx (cycles/pixel)")
    ax.set_ylabel("fy (cycles/pixel, + = down)")
    ax.set_title("|frequency response|" + (" in dB" if db else "") + ", dashed: −3 dB")


def _draw_profiles(ax, k, summary, db):
    f = np.linspace(-0.5, 0.5, _PROFILE)
    px = _profile(k.sum(0), k.shape[1] // 2, f)
    py = _profile(k.sum(1), k.shape[0] // 2, f)
    peak = max(float(px.max()), float(py.max()))
    for values, axis, colour in ((px, "x", "tab:blue"), (py, "y", "tab:orange")):
        label = f"along {axis} (f{'y' if axis == 'x' else 'x'} = 0)"
        if summary["cutoff"][axis]:
            label += ", −3 dB at " + ", ".join(f"{c:.4f}" for c in summary["cutoff"][axis])
        ax.plot(f, _to_db(values, peak) if db else values, color=colour, label=label,
                linestyle="-" if axis == "x" else "--")
        for c in summary["cutoff"][axis]:
            for s in (-c, c):
                ax.axvline(s, color=colour, linewidth=0.8, linestyle=":")
    ax.set_xlim(-0.5, 0.5)
    ax.set_xlabel("frequency (cycles/pixel); dotted: −3 dB cutoffs")
    ax.set_ylabel("|H| (dB)" if db else "|H|")
    if db and peak > 0:
        ax.set_ylim(_to_db(np.array(peak), peak) + _FLOOR_DB - 5, _to_db(np.array(peak), peak) + 5)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize=9)
    kinds = summary["kind"]
    ax.set_title(f"profiles through DC: {kinds}, DC gain {summary['dc_gain']:.4g}")


def render_kernel(kernel, *, db=False, dpi=100):
    """The figure of a kernel spec or Kernel as PNG bytes.

    Examples
    --------
    >>> render_kernel("gaussian:sigma=2")[:8] == b"\\x89PNG\\r\\n\\x1a\\n"  # doctest: +SKIP
    True
    """
    Figure = require_matplotlib()
    import warnings

    k = load_kernel(kernel)
    mats = applied_matrices(k)
    summary = response_summary(k)
    n = len(mats)
    fig = Figure(figsize=(15, 4.3 * n + 0.7), layout="compressed")  # compressed: for the square panels
    fig.get_layout_engine().set(w_pad=0.12, wspace=0.06)
    title = f"{k.name}: {k.description}" if k.description else k.name
    if len(title) > 110:
        title = title[:107] + "..."
    if n > 1:
        title += f"\n{n} kernels, combined as {_COMBINE.get(k.combine, k.combine)}"
    fig.suptitle(title, fontsize=12)
    axes = fig.subplots(n, 3, squeeze=False, width_ratios=[1, 1, 1.25])
    for row, (m, s) in enumerate(zip(mats, summary["matrices"])):
        _draw_matrix(fig, axes[row, 0], m)
        if n > 1:
            axes[row, 0].set_title(f"kernel {row + 1} of {n}: " + axes[row, 0].get_title())
        _draw_response(fig, axes[row, 1], m, db)
        _draw_profiles(axes[row, 2], m, s, db)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fig.savefig(buffer, format="png", dpi=dpi, facecolor="white")
    return buffer.getvalue()


def plot_kernel(kernel, path, *, db=False, overwrite=False, dpi=100):
    """Write the figure of ``kernel`` to ``path`` (a new .png; ``overwrite`` to replace one).

    The kernel as an image (diverging colours, 0 = white, values in the cells up to 9x9),
    the magnitude of its frequency response over -0.5..0.5 cycles/pixel (linear or ``db``)
    and the profiles along both axes; one row per matrix of a multi-kernel preset.
    """
    from PIL import Image

    from imgconv.imageio import write_image
    from imgconv.imageio.atomic import check_new

    path = os.fspath(path)
    if os.path.splitext(path)[1].lower() != ".png":
        raise ImageWriteError("a kernel plot is a PNG: give a path ending in .png", path)
    check_new(path, overwrite=overwrite)
    data = render_kernel(kernel, db=db, dpi=dpi)
    with Image.open(io.BytesIO(data)) as im:
        pixels = np.asarray(im.convert("RGB"))
    write_image(path, pixels, overwrite=overwrite)
