"""The convolution engine against SciPy, and the properties the maths promises."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import ndimage

import imgconv
from imgconv.errors import EngineError
from imgconv.settings import numba_installed, use

MODES = ["reflect", "mirror", "nearest", "wrap", "constant"]
METHODS = ["direct", "separable", "fft"]
TOL = 1e-4


def reference(img, k, mode, cval=0.0, correlate=False):
    """scipy.ndimage in float64, per channel."""
    f = ndimage.correlate if correlate else ndimage.convolve
    img = np.asarray(img, np.float64)
    k = np.asarray(k, np.float64)
    if img.ndim == 2:
        return f(img, k, mode=mode, cval=cval)
    return np.stack([f(img[..., c], k, mode=mode, cval=cval) for c in range(img.shape[2])], -1)


def kernels():
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[-4:5, -4:5]
    return {
        "dense5": rng.random((5, 5)) / 12,
        "even4x6": rng.standard_normal((4, 6)) / 10,
        "asym2x7": rng.random((2, 7)) / 7,
        "row1x9": rng.random((1, 9)) / 9,
        "sobel": np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]], float),
        "disc9": (xx * xx + yy * yy <= 16) / 49.0,
        "big21": rng.random((21, 21)) / 200,
    }


@pytest.mark.parametrize("method", METHODS + ["auto"])
@pytest.mark.parametrize("mode", MODES)
def test_matches_scipy_on_photograph(photo_rgb, method, mode):
    img = photo_rgb[::3, ::3]  # keep it quick; still a real photograph
    for name, k in kernels().items():
        for corr in (False, True):
            got = imgconv.convolve(img, k, mode=mode, cval=0.3, method=method, correlate=corr)
            assert got.dtype == np.float32 and got.shape == img.shape
            err = np.abs(got - reference(img, k, mode, 0.3, corr)).max()
            assert err < TOL, (name, corr, err)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float64, np.int32])
def test_any_real_dtype(photo_grey, dtype):
    img = (photo_grey[:60, :80] * 200).astype(dtype)
    k = kernels()["dense5"]
    got = imgconv.convolve(img, k, method="direct")
    ref = reference(img.astype(np.float64), k, "reflect")
    assert np.abs(got - ref).max() < 1e-4 * max(1, np.abs(ref).max())


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("mode", MODES)
def test_kernel_larger_than_image_and_thin_images(method, mode):
    rng = np.random.default_rng(3)
    for shape, kshape in [((5, 4), (9, 11)), ((1, 30), (3, 3)), ((30, 1), (5, 2)), ((1, 1), (3, 3)), ((7, 9), (1, 12))]:
        img = rng.random(shape, dtype=np.float32)
        k = rng.random(kshape)
        got = imgconv.convolve(img, k, mode=mode, cval=0.5, method=method)
        assert np.abs(got - reference(img, k, mode, 0.5)).max() < TOL, (shape, kshape)


def test_identity_is_noop(photo_rgb):
    for k in (np.ones((1, 1)), np.pad([[1.0]], 2)):
        for method in METHODS:
            assert np.array_equal(imgconv.convolve(photo_rgb, k, method=method), photo_rgb) or \
                np.abs(imgconv.convolve(photo_rgb, k, method=method) - photo_rgb).max() < 1e-6


def test_low_rank_kernel_runs_as_few_separable_pairs():
    yy, xx = np.mgrid[-7:8, -7:8]
    disc = (xx * xx + yy * yy <= 49).astype(float)
    assert imgconv.explain((2160, 3840, 3), disc).rank < 15
    x = np.arange(-12, 13)
    g1, g2 = np.exp(-x * x / 8.0), np.exp(-x * x / 18.0)
    dog = np.outer(g1, g1) / g1.sum() ** 2 - np.outer(g2, g2) / g2.sum() ** 2  # rank 2, 25x25
    plan = imgconv.explain((2160, 3840, 3), dog)
    assert plan.rank == 2 and plan.costs["separable"] < plan.costs["direct"] / 4
    if numba_installed():  # the compiled pairs beat the FFT; SciPy's passes do not (IMGCONV_NO_NUMBA=1)
        assert plan.method == "separable"
    assert imgconv.explain((100, 100), np.outer([1, 2, 1], [1, 0, -1])).rank == 1


def test_explain_reports_choice_and_costs():
    plan = imgconv.explain((2160, 3840, 3), np.random.default_rng(0).random((63, 63)))
    assert plan.method == "fft"
    assert set(plan.costs) == {"direct", "separable", "fft"}
    assert "fft" in str(plan) and "63x63" in str(plan)
    assert imgconv.explain((100, 100), np.ones((3, 3)), method="direct").method == "direct"


@pytest.mark.parametrize("bad", [
    dict(mode="bogus"), dict(method="bogus"),
])
def test_bad_arguments(bad):
    with pytest.raises(EngineError):
        imgconv.convolve(np.zeros((4, 4)), np.ones((3, 3)), **bad)


@pytest.mark.parametrize("image,kernel", [
    (np.zeros((2, 2, 2, 2, 2)), np.ones((3, 3))),  # (4-D is a Z x Y x X x C volume)
    (np.zeros((4, 4)), np.ones((3, 3, 3))),
    (np.zeros((4, 4)), np.zeros((0, 3))),
    (np.zeros((4, 4)), np.array([[np.nan]])),
    (np.array([["a"]]), np.ones((3, 3))),
    (np.zeros((4, 4)), np.array([[1j]])),
])
def test_bad_shapes_and_values(image, kernel):
    with pytest.raises(EngineError):
        imgconv.convolve(image, kernel)


# ---- properties from the theory (hypothesis) ---------------------------------------------

images = hnp.arrays(np.float32, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=24),
                    elements=st.floats(0, 1, width=32))
small_kernels = hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=7),
                           elements=st.floats(-1, 1))
PROPS = settings(max_examples=60, deadline=None)


@PROPS
@given(images, small_kernels, st.sampled_from(MODES), st.sampled_from(METHODS))
def test_property_equals_scipy(img, k, mode, method):
    got = imgconv.convolve(img, k, mode=mode, cval=0.25, method=method)
    assert np.abs(got - reference(img, k, mode, 0.25)).max() < TOL


@PROPS
@given(images, small_kernels, st.sampled_from(MODES))
def test_property_all_methods_agree(img, k, mode):
    outs = [imgconv.convolve(img, k, mode=mode, method=m) for m in METHODS]
    for o in outs[1:]:
        assert np.abs(o - outs[0]).max() < TOL


@PROPS
@given(images, small_kernels, st.sampled_from(MODES))
def test_property_correlation_is_convolution_with_flipped_kernel(img, k, mode):
    a = imgconv.convolve(img, k, mode=mode, correlate=True)
    h, w = k.shape
    if h % 2 and w % 2:  # odd: the flip keeps the anchor
        b = imgconv.convolve(img, k[::-1, ::-1], mode=mode)
        assert np.abs(a - b).max() < TOL
    else:  # even sides: convolution's anchor moves by one (scipy's rule); pad to odd to compare
        kp = np.pad(k, ((0, 1 - h % 2), (0, 1 - w % 2)))
        b = imgconv.convolve(img, kp, mode=mode, correlate=True)
        assert np.abs(a - b).max() < TOL


@PROPS
@given(images, small_kernels, small_kernels, st.floats(-2, 2), st.floats(-2, 2), st.sampled_from(METHODS))
def test_property_linearity(img, k1, k2, a, b, method):
    shape = np.maximum(k1.shape, k2.shape)
    k1 = np.pad(k1, [(0, s - n) for s, n in zip(shape, k1.shape)])
    k2 = np.pad(k2, [(0, s - n) for s, n in zip(shape, k2.shape)])
    lhs = imgconv.convolve(img, a * k1 + b * k2, method=method)
    rhs = a * imgconv.convolve(img, k1, method=method) + b * imgconv.convolve(img, k2, method=method)
    assert np.abs(lhs - rhs).max() < 4 * TOL
    img2 = img[::-1].copy()
    lhs = imgconv.convolve(a * img + b * img2, k1, method=method)
    rhs = a * imgconv.convolve(img, k1, method=method) + b * imgconv.convolve(img2, k1, method=method)
    assert np.abs(lhs - rhs).max() < 4 * TOL


@PROPS
@given(images, small_kernels, st.integers(-30, 30), st.integers(-30, 30), st.sampled_from(METHODS))
def test_property_shift_invariance_wrap(img, k, dy, dx, method):
    shifted = np.roll(img, (dy, dx), (0, 1))
    a = imgconv.convolve(shifted, k, mode="wrap", method=method)
    b = np.roll(imgconv.convolve(img, k, mode="wrap", method=method), (dy, dx), (0, 1))
    assert np.abs(a - b).max() < TOL


@PROPS
@given(images, st.integers(1, 3).map(lambda r: 2 * r + 1), st.data())
def test_property_associativity_wrap(img, n, data):
    ka = data.draw(hnp.arrays(np.float64, (n, n), elements=st.floats(-1, 1)))
    kb = data.draw(hnp.arrays(np.float64, (3, 3), elements=st.floats(-1, 1)))
    if min(img.shape) < ka.shape[0] + 2:  # full kernel must not wrap onto itself
        img = np.tile(img, (ka.shape[0] + 2, ka.shape[0] + 2))
    both = ndimage.convolve(np.pad(ka, 1), kb, mode="constant")  # full 2-D convolution a * b
    lhs = imgconv.convolve(imgconv.convolve(img, ka, mode="wrap"), kb, mode="wrap")
    rhs = imgconv.convolve(img, both, mode="wrap")
    assert np.abs(lhs - rhs).max() < 4 * TOL


@pytest.mark.skipif(not numba_installed(), reason="numba not installed")
def test_numpy_fallback_equals_compiled(photo_rgb):
    img = photo_rgb[:90, :120]
    k = kernels()["even4x6"]
    fast = {m: imgconv.convolve(img, k, mode="constant", cval=0.7, method=m) for m in ("direct", "separable")}
    with use(compiled=False):
        for m, out in fast.items():
            slow = imgconv.convolve(img, k, mode="constant", cval=0.7, method=m)
            assert np.abs(slow - out).max() < TOL
