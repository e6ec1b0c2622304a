"""The methods without the compiled loops (NumPy's taps, BLAS's banded products) against SciPy."""
import numpy as np
import pytest
from scipy import ndimage

import imgconv
from imgconv.engine.boundary import source_index
from imgconv.engine.plain import BAND_COLS, BAND_ROWS, correlate_banded, correlate_taps
from imgconv.engine.separable import low_rank_factors
from imgconv.settings import LOAD_MS, numba_installed, use

MODES = ["reflect", "mirror", "nearest", "wrap", "constant"]
RNG = np.random.default_rng(11)
KERNELS = {
    "sharpen": np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], float),
    "gauss13": np.outer(*[np.exp(-0.5 * (np.arange(-6, 7) / 2.0) ** 2) / 5.01] * 2),
    "dense5x7": RNG.random((5, 7)) / 35,
    "even4x6": RNG.standard_normal((4, 6)) / 10,
    "row1x9": RNG.random((1, 9)) / 9,
    "col9x1": RNG.random((9, 1)) / 9,
    "one": np.array([[2.0]]),
}


def reference(img, k, mode, cval):
    """scipy.ndimage.correlate in float64, per channel."""
    img = np.asarray(img, np.float64)
    return np.stack([ndimage.correlate(img[..., c], k, mode=mode, cval=cval) for c in range(img.shape[2])], -1)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(KERNELS))
def test_taps_and_banded_match_scipy_on_a_photograph(photo_rgb, name, mode):
    img = photo_rgb[::4, ::4]  # 128 x 192 x 3 of a real photograph: many blocks and a remainder
    k = KERNELS[name]
    anchor = (k.shape[0] // 2, k.shape[1] // 2)
    ref = reference(img, k, mode, 0.3)
    assert np.abs(correlate_taps(img, k, anchor, mode, 0.3) - ref).max() < 1e-5
    assert np.abs(correlate_banded(img, low_rank_factors(k), anchor, mode, 0.3) - ref).max() < 1e-5


@pytest.mark.parametrize("shape", [(1, 1, 1), (2, 3, 2), (BAND_ROWS + 1, BAND_COLS + 1, 4), (5, 40, 1)])
def test_images_smaller_than_a_block_or_the_kernel(shape):
    img = RNG.random(shape, dtype=np.float32)
    k = KERNELS["dense5x7"]
    for mode in MODES:
        ref = reference(img, k, mode, -0.5)
        assert np.abs(correlate_banded(img, low_rank_factors(k), (2, 3), mode, -0.5) - ref).max() < 1e-5
        assert np.abs(correlate_taps(img, k, (2, 3), mode, -0.5) - ref).max() < 1e-5


def test_a_band_is_bit_identical_to_the_whole_image_wherever_it_starts(photo_rgb):
    img = photo_rgb[:100, :150]
    factors = low_rank_factors(KERNELS["gauss13"])
    whole = correlate_banded(img, factors, (6, 6), "reflect", 0.0)
    rows = source_index(100, 6, 6, "reflect")
    for start, count in ((0, 1), (3, 7), (37, 50), (90, 10)):
        band = correlate_banded(img, factors, (6, 6), "reflect", 0.0, rows=rows[start:start + count + 12])
        assert np.array_equal(band, whole[start:start + count])


def test_a_nan_or_infinity_reaches_only_where_the_taps_reach():
    """A zero of a banded matrix times an infinity is NaN: those rows are redone from the taps."""
    img = RNG.random((40, 50, 1), dtype=np.float32)
    img[20, 25], img[5, 40] = np.nan, np.inf
    k = np.outer([1.0, 2.0, 1.0], [1.0, 2.0, 1.0]) / 16
    ref = reference(img, k, "reflect", 0.0)
    for out in (correlate_banded(img, low_rank_factors(k), (1, 1), "reflect", 0.0),
                correlate_taps(img, k, (1, 1), "reflect", 0.0)):
        assert np.array_equal(np.isfinite(out[..., 0]), np.isfinite(ref[..., 0]))
        finite = np.isfinite(ref)
        assert np.abs(out[finite] - ref[finite]).max() < 1e-5


def test_an_all_zero_kernel_gives_zero_as_scipy_does():
    img = np.ones((6, 7, 1), np.float32)
    img[2, 3] = np.nan
    out = correlate_taps(img, np.zeros((3, 3)), (1, 1), "reflect", 0.0)
    assert np.array_equal(out, reference(img, np.zeros((3, 3)), "reflect", 0.0))


def test_the_engine_runs_them_without_the_compiled_loops(photo_rgb):
    img = photo_rgb[:90, :120]
    with use(compiled=False):
        for name in ("sharpen", "gauss13"):
            for method in ("direct", "separable"):
                got = imgconv.convolve(img, KERNELS[name], mode="wrap", method=method, correlate=True)
                assert np.abs(got - reference(img, KERNELS[name], "wrap", 0.0)).max() < 1e-5


@pytest.mark.skipif(not numba_installed(), reason="numba not installed")
def test_a_one_off_command_on_a_4k_photograph_plans_numpy_not_the_loops():
    """Loading numba costs more than NumPy's 3x3 or 13x13 on a 4K picture; a library process
    that has the loops loaded (load_ms 0) uses them."""
    from imgconv.engine import explain

    with use(compiled=True, load_ms=LOAD_MS):
        for name, method in (("sharpen", "direct"), ("gauss13", "separable")):
            plan = explain((2160, 3840, 3), KERNELS[name])
            assert (plan.method, plan.compiled) == (method, False), plan
    with use(compiled=True, load_ms=0.0):
        assert explain((2160, 3840, 3), KERNELS["gauss13"]).compiled


@pytest.mark.parametrize("mode", MODES)
def test_a_kernel_taller_than_the_image_reads_each_row_once(mode):
    """A 3-row picture under a 1025-row kernel: the border repeats its rows; direct reads each
    once, and separable, whose block of extended rows would pass BLOCK_BYTES, runs by its taps."""
    from imgconv.engine.plain import banded_fits

    img = RNG.random((3, 20000, 1), dtype=np.float32)
    k = RNG.random((1025, 1)) / 1025
    assert not banded_fits(1025, 20000, 1)
    index = source_index(3, 512, 512, mode)  # the extension by its definition (ndimage gives NaN here)
    extended = np.where((index >= 0)[:, None, None], img[np.maximum(index, 0)].astype(np.float64), 0.25)
    ref = np.stack([k[:, 0] @ extended[r:r + 1025, :, 0] for r in range(3)])[..., None]
    assert np.abs(correlate_banded(img, low_rank_factors(k), (512, 0), mode, 0.25) - ref).max() < 1e-5
    assert np.abs(correlate_taps(img, k, (512, 0), mode, 0.25) - ref).max() < 1e-5
    with use(compiled=False):
        assert imgconv.explain(img.shape, k).method != "separable"
