"""Volumes: the 3-D engine against scipy.ndimage, 3-D kernels, 3-D deconvolution against
scikit-image, on the real through-focus stack samples/stack.tif (made by samples/make_stack.py)."""
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import ndimage

import imgconv
from imgconv.deconvolve import deconvolve  # (imgconv.deconvolve is also the subpackage's name)
from imgconv.errors import EngineError, ImgconvError, KernelError
from imgconv.kernels import describe_kernel, load_kernel
from imgconv.settings import numba_installed, use

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
MODES = ["reflect", "mirror", "nearest", "wrap", "constant"]
METHODS = ["direct", "separable", "fft"]
TOL = 1e-4


@pytest.fixture(scope="module")
def stack():
    """The real through-focus stack, 24 x 128 x 128, float32 in [0, 1], read by tifffile itself."""
    import tifffile

    return (tifffile.imread(SAMPLES / "stack.tif") / 65535.0).astype(np.float32)


def reference(volume, k, mode, cval=0.0, correlate=False):
    f = ndimage.correlate if correlate else ndimage.convolve
    v = np.asarray(volume, np.float64)
    if v.ndim == 3:
        return f(v, np.asarray(k, np.float64), mode=mode, cval=cval)
    return np.stack([f(v[..., c], k, mode=mode, cval=cval) for c in range(v.shape[3])], -1)


def kernels3d():
    rng = np.random.default_rng(11)
    g = np.exp(-0.5 * (np.arange(9) - 4.0) ** 2 / 2.0)
    return {
        "dense3x4x5": rng.random((3, 4, 5)) / 30,
        "even2x4x6": rng.standard_normal((2, 4, 6)) / 10,
        "gauss-aniso": np.einsum("i,j,k->ijk", g[2:7], g, g[1:8]) / 40,
        "log": load_kernel("log:sigma=1,dims=3").matrices[0],
        "sparse-z": np.pad([[[1.0]], [[0.0]], [[-1.0]]], ((1, 1), (0, 0), (0, 0))),
        "big9": rng.random((9, 9, 9)) / 400,
    }


# ---------------------------------------------------------------- the engine in 3-D


@pytest.mark.parametrize("method", METHODS + ["auto"])
@pytest.mark.parametrize("mode", MODES)
def test_3d_matches_scipy_on_the_stack(stack, method, mode):
    volume = stack[::2, ::3, ::3]  # 12 x 43 x 43: quick, still the real stack
    for name, k in kernels3d().items():
        for corr in (False, True):
            got = imgconv.convolve(volume, k, mode=mode, cval=0.3, method=method, correlate=corr)
            assert got.dtype == np.float32 and got.shape == volume.shape
            err = np.abs(got - reference(volume, k, mode, 0.3, corr)).max()
            assert err < TOL, (name, corr, err)


@pytest.mark.parametrize("method", METHODS)
def test_channels_of_a_volume_are_independent(stack, method):
    volume = np.stack([stack[:8, :40, :50], stack[8:16, 20:60, 30:80] ** 2], axis=-1)  # Z x Y x X x 2
    k = kernels3d()["even2x4x6"]
    got = imgconv.convolve(volume, k, mode="mirror", method=method)
    assert got.shape == volume.shape
    assert np.abs(got - reference(volume, k, "mirror")).max() < TOL


@pytest.mark.skipif(not numba_installed(), reason="numba not installed")
@pytest.mark.parametrize("method", ["direct", "separable"])
def test_scipy_fallback_equals_compiled_3d(stack, method):
    volume = stack[:10, :30, :40]
    k = kernels3d()["dense3x4x5"]
    fast = imgconv.convolve(volume, k, mode="constant", cval=0.7, method=method)
    with use(compiled=False):
        slow = imgconv.convolve(volume, k, mode="constant", cval=0.7, method=method)
    assert np.abs(slow - fast).max() < TOL


def test_kernel_larger_than_the_volume(stack):
    volume = stack[:3, :5, :4]
    k = np.random.default_rng(2).random((7, 9, 11)) / 300
    for mode in MODES:
        for method in METHODS:
            got = imgconv.convolve(volume, k, mode=mode, cval=0.5, method=method)
            assert np.abs(got - reference(volume, k, mode, 0.5)).max() < TOL, (mode, method)


def test_gaussian_preset_equals_scipy_gaussian_filter(stack):
    """Per-axis sigmas are x, y, z: sigma=1,1.5,2.5 is scipy's sigma=(2.5, 1.5, 1) on Z, Y, X."""
    k = load_kernel("gaussian:sigma=1,1.5,2.5,size=9,13,21")
    got = imgconv.convolve(stack, k.matrices[0])
    ref = ndimage.gaussian_filter(stack.astype(np.float64), (2.5, 1.5, 1.0), truncate=4.0)
    assert np.abs(got - ref).max() < TOL
    assert imgconv.explain(stack, k.matrices[0]).method == "separable"


def test_2d_kernel_filters_each_plane(stack):
    k = np.random.default_rng(4).random((5, 3)) / 15
    volume = stack[:6, :50, :60]
    per_plane = np.stack([ndimage.convolve(p.astype(np.float64), k, mode="nearest") for p in volume])
    explicit = imgconv.convolve(volume, k, mode="nearest", volume=True)
    assert np.abs(explicit - per_plane).max() < TOL
    four_d = imgconv.convolve(volume[..., None], k, mode="nearest")  # Z x Y x X x C: a volume
    assert four_d.shape == volume.shape + (1,) and np.abs(four_d[..., 0] - per_plane).max() < TOL
    as_image = imgconv.convolve(volume, k, mode="nearest")  # no volume=True: H x W x C, as always
    channels = np.stack([ndimage.convolve(volume[..., c].astype(np.float64), k, mode="nearest") for c in range(60)], -1)
    assert np.abs(as_image - channels).max() < TOL


def test_volume_rule_refusals():
    with pytest.raises(EngineError, match="volume"):
        imgconv.convolve(np.zeros((4, 4)), np.ones((3, 3, 3)))
    with pytest.raises(EngineError, match="volume=False"):
        imgconv.convolve(np.zeros((4, 4, 4)), np.ones((3, 3, 3)), volume=False)
    with pytest.raises(EngineError):
        imgconv.convolve(np.zeros((4, 4, 4)), np.full((3, 3, 3), np.nan))


def test_explain_in_3d():
    g = load_kernel("gaussian:sigma=2,dims=3").matrices[0]
    plan = imgconv.explain((64, 256, 256), g)
    assert plan.rank == 1 and plan.pairs == 1 and plan.costs["separable"] < plan.costs["direct"] / 10
    assert plan.method == "separable" or not numba_installed()  # SciPy's passes and the FFT: by the threads
    assert "13x13x13 kernel" in str(plan) and set(plan.costs) == {"direct", "separable", "fft"}
    assert imgconv.explain((64, 256, 256), np.random.default_rng(0).random((21, 21, 21))).method == "fft"
    if numba_installed():  # scipy.ndimage's direct 3x3x3 against the FFT depends on the threads
        assert imgconv.explain((64, 256, 256), np.random.default_rng(0).random((3, 3, 3))).method == "direct"
    assert imgconv.explain((8, 8, 8), g, method="fft").method == "fft"


def test_axis_factors_find_outer_products_and_low_rank():
    from imgconv.engine.nd_separable import axis_factors

    rng = np.random.default_rng(8)
    triple = np.einsum("i,j,k->ijk", rng.random(5), rng.random(7), rng.random(3))
    f = axis_factors(triple)
    assert (f.rank, f.pairs, f.taps) == (1, 1, 15) and np.allclose(f.kernel(), triple)
    log = axis_factors(load_kernel("log:sigma=2,dims=3").matrices[0])
    assert log.rank == 2 and log.taps < 17 ** 3 / 20
    dense = rng.random((4, 5, 6))
    assert np.allclose(axis_factors(dense).kernel(), dense)


volumes = hnp.arrays(np.float32, hnp.array_shapes(min_dims=3, max_dims=3, min_side=1, max_side=10),
                     elements=st.floats(0, 1, width=32))
kernels = hnp.arrays(np.float64, hnp.array_shapes(min_dims=3, max_dims=3, min_side=1, max_side=4),
                     elements=st.floats(-1, 1))


@settings(max_examples=40, deadline=None)
@given(volumes, kernels, st.sampled_from(MODES), st.sampled_from(METHODS))
def test_property_3d_equals_scipy(volume, k, mode, method):
    got = imgconv.convolve(volume, k, mode=mode, cval=0.25, method=method)
    assert np.abs(got - reference(volume, k, mode, 0.25)).max() < TOL


@settings(max_examples=25, deadline=None)
@given(volumes, kernels, st.integers(-12, 12), st.integers(-12, 12), st.integers(-12, 12), st.sampled_from(METHODS))
def test_property_3d_shift_invariance_wrap(volume, k, dz, dy, dx, method):
    shifted = np.roll(volume, (dz, dy, dx), (0, 1, 2))
    a = imgconv.convolve(shifted, k, mode="wrap", method=method)
    b = np.roll(imgconv.convolve(volume, k, mode="wrap", method=method), (dz, dy, dx), (0, 1, 2))
    assert np.abs(a - b).max() < TOL


# ---------------------------------------------------------------- 3-D kernels


def test_text_toml_and_npy_3d_kernels(tmp_path):
    planes = np.arange(18, dtype=float).reshape(2, 3, 3) / 10
    (tmp_path / "k.txt").write_text("# plane 0\n0 0.1 0.2\n0.3 0.4 0.5\n0.6 0.7 0.8\n--- # plane 1\n"
                                    "0.9, 1, 1.1\n1.2 1.3 1.4\n3/2 1.6 1.7\n")
    (tmp_path / "k.toml").write_text(f"description = 'volume'\nmatrix = {planes.tolist()}\n")
    np.save(tmp_path / "k.npy", planes)
    for name in ("k.txt", "k.toml", "k.npy"):
        k = load_kernel(str(tmp_path / name))
        assert k.ndim == 3 and k.shape == (2, 3, 3), name
        np.testing.assert_allclose(k.matrices[0], planes, err_msg=name)
    assert "plane z=1:" in describe_kernel(load_kernel(str(tmp_path / "k.npy")))


@pytest.mark.parametrize("text, message", [
    ("1 2\n3 4\n---\n5 6\n", "plane 2 is 2x1 but plane 1 is 2x2"),
    ("1 2\n---\n\n", "plane 2: empty kernel"),
    ("1 2\n---\n1 x\n", "plane 2: line 2: 'x' is not a number"),
])
def test_bad_text_planes(tmp_path, text, message):
    (tmp_path / "bad.txt").write_text(text)
    with pytest.raises(KernelError, match=message):
        load_kernel(str(tmp_path / "bad.txt"))


def test_bad_toml_planes(tmp_path):
    (tmp_path / "bad.toml").write_text("matrix = [[[1, 2]], [[3]]]\n")
    with pytest.raises(KernelError, match="plane 2 is 1x1 but plane 1 is 2x1"):
        load_kernel(str(tmp_path / "bad.toml"))
    with pytest.raises(KernelError, match="2-D and 3-D"):
        imgconv.Kernel("mixed", (np.ones((3, 3)), np.ones((3, 3, 3))), combine="sum")


def test_3d_presets():
    box = load_kernel("box:size=5,3,2").matrices[0]
    assert box.shape == (2, 3, 5) and np.allclose(box, 1 / 30)
    log = load_kernel("log:sigma=1.5,1.5,2.5").matrices[0]
    z, y, x = np.indices(log.shape) - (np.array(log.shape) // 2)[:, None, None, None]
    for axis in (x, y, z):  # applied to axis^2 it gives 2, to constants 0
        assert (log * axis * axis).sum() == pytest.approx(2.0)
    assert abs(log.sum()) < 1e-12 and log[tuple(np.array(log.shape) // 2)] < 0
    assert load_kernel("identity:dims=3").matrices[0].shape == (1, 1, 1)
    assert load_kernel("gaussian:sigma=2,dims=3").shape == (13, 13, 13)


@pytest.mark.parametrize("direction, axis", [("x", 2), ("y", 1), ("z", 0)])
def test_sobel_3d_is_positive_along_each_axis(direction, axis):
    ramp = np.broadcast_to(np.arange(9.0).reshape([-1 if a == axis else 1 for a in range(3)]), (9, 9, 9))
    k = load_kernel(f"sobel:dims=3,direction={direction}").matrices[0]
    inner = imgconv.convolve(ramp.astype(np.float32), k)[2:-2, 2:-2, 2:-2]
    assert np.allclose(inner, 32.0)  # 2 (the difference) x 16 (the smoothing in the other two axes)
    magnitude = load_kernel("sobel:dims=3")
    assert magnitude.combine == "magnitude" and len(magnitude.matrices) == 3


@pytest.mark.parametrize("spec, message", [
    ("motion:length=3,dims=3", "per-axis values and dims are for"),
    ("gaussian:sigma=1,2,dims=3", "sigma takes 1 or 3 values"),
    ("gaussian:sigma=1,1,-2", "sigma must be > 0"),
    ("gaussian:dims=4", "dims must be 2 or 3"),
    ("box:size=4000,4000,4000", "kernel too large"),
    ("sobel:dims=2,direction=z", "direction must be one of x|y|both"),
])
def test_bad_3d_presets(spec, message):
    with pytest.raises(KernelError, match=message):
        load_kernel(spec)


def test_filter_image_with_a_3d_kernel_on_a_volume(stack):
    from imgconv.volume_filter import filter_volume

    volume = stack[:8, :32, :32]
    out = filter_volume(volume, ["gaussian:sigma=1,dims=3", "sobel:dims=3"], mode="nearest", scale=0.5, offset=0.1)
    g = load_kernel("gaussian:sigma=1,dims=3").matrices[0]
    blurred = ndimage.convolve(volume.astype(np.float64), g, mode="nearest")
    grads = [ndimage.convolve(blurred, m, mode="nearest") for m in load_kernel("sobel:dims=3").matrices]
    ref = np.sqrt(sum(d * d for d in grads)) * 0.5 + 0.1
    assert np.abs(out - ref).max() < 1e-4


# ---------------------------------------------------------------- 3-D deconvolution


def psnr(a, b):
    return 10 * np.log10(1.0 / np.mean((np.asarray(a, np.float64) - b) ** 2))


@pytest.fixture(scope="module")
def blurred_stack(stack):
    psf = load_kernel("gaussian:sigma=1.2,1.2,0.8").matrices[0]
    sharp = stack[:, :96, :96].astype(np.float64)
    blurred = ndimage.convolve(sharp, psf, mode="reflect")
    noisy = (blurred + np.random.default_rng(0).normal(0, 0.003, blurred.shape)).astype(np.float32)
    return sharp, psf, noisy


def test_wiener_3d_inverts_a_noiseless_blur(stack):
    sharp = ndimage.zoom(np.random.default_rng(1).random((6, 8, 8)), 4, order=1)
    psf = np.einsum("i,j,k->ijk", [1, 4, 1], [1, 4, 1], [1, 3, 1]) / 180.0  # a well-conditioned blur
    restored = deconvolve(ndimage.convolve(sharp, psf, mode="reflect"), psf, balance=0)
    assert restored.shape == sharp.shape and np.abs(restored - sharp).max() < 1e-3


@pytest.mark.parametrize("method", ["wiener", "richardson-lucy"])
def test_3d_deconvolution_gains_and_beats_scikit_image(blurred_stack, method):
    restoration = pytest.importorskip("skimage.restoration")
    sharp, psf, observed = blurred_stack
    ours = deconvolve(observed, psf, method=method, iterations=20)
    gain = psnr(ours, sharp) - psnr(observed, sharp)
    assert gain > 1.0, gain
    if method == "richardson-lucy":
        theirs = restoration.richardson_lucy(observed, psf.astype(np.float32), num_iter=20)
    else:
        theirs = restoration.wiener(observed.astype(np.float64), psf, 0.01)
    assert psnr(ours, sharp) > psnr(theirs, sharp)


def test_no_ringing_at_the_faces():
    """On a volume whose planes are alike (overlapping crops of camera.png, each shifted by (2, 3)
    pixels), the first and last planes are restored as well as the middle ones."""
    from PIL import Image

    photo = np.asarray(Image.open(SAMPLES / "camera.png"), np.float64) / 255
    sharp = np.stack([photo[100 + 2 * z:164 + 2 * z, 100 + 3 * z:164 + 3 * z] for z in range(20)])
    psf = load_kernel("gaussian:sigma=1.2,1.2,0.8").matrices[0]
    blurred = ndimage.convolve(sharp, psf, mode="reflect")
    observed = (blurred + np.random.default_rng(0).normal(0, 0.003, sharp.shape)).astype(np.float32)
    for method in ("wiener", "richardson-lucy"):
        restored = deconvolve(observed, psf, method=method, iterations=20)
        gains = [psnr(restored[z], sharp[z]) - psnr(observed[z], sharp[z]) for z in range(20)]
        middle = np.median(gains[5:15])
        assert middle > 2 and min(gains[0], gains[-1]) > 0.8 * middle, (method, gains)


def test_richardson_lucy_3d_equals_the_textbook_iteration(stack):
    """A mirror-symmetric PSF: Richardson-Lucy in reflect mode, written out with scipy.ndimage."""
    psf = load_kernel("gaussian:sigma=1,1,1.5").matrices[0]
    observed = ndimage.convolve(stack[4:20, :40, :40].astype(np.float64), psf, mode="reflect")
    estimate = np.maximum(observed, 1e-6)
    for _ in range(5):
        ratio = np.maximum(observed, 1e-6) / np.maximum(ndimage.convolve(estimate, psf, mode="reflect"), 1e-6)
        estimate = np.maximum(estimate * ndimage.correlate(ratio, psf, mode="reflect"), 0)
    ours = deconvolve(observed.astype(np.float32), psf, method="richardson-lucy", iterations=5)
    assert np.abs(ours - estimate).max() < 1e-4


def test_asymmetric_psf_and_tv_damping_in_3d(blurred_stack):
    sharp, psf, observed = blurred_stack
    skewed = psf.copy()
    skewed[:, :, -1] *= 3  # not mirror-symmetric: the margin is re-estimated, as in 2-D
    blurred = ndimage.convolve(sharp, skewed / skewed.sum(), mode="reflect").astype(np.float32)
    restored = deconvolve(blurred, skewed, method="richardson-lucy", iterations=10, balance=0.002)
    assert psnr(restored, sharp) > psnr(blurred, sharp) + 1


def test_2d_psf_on_a_volume_restores_each_plane(stack):
    psf = load_kernel("gaussian:sigma=1.5").matrices[0]
    volume = np.stack([ndimage.convolve(p.astype(np.float64), psf, mode="reflect") for p in stack[:3, :48, :48]])
    together = deconvolve(volume, psf, volume=True, balance=1e-3)
    for z in range(3):
        assert np.array_equal(together[z], deconvolve(volume[z], psf, balance=1e-3))


def test_bad_3d_psfs(stack):
    with pytest.raises(KernelError, match="larger than the image"):
        deconvolve(stack[:4], load_kernel("gaussian:sigma=2,dims=3").matrices[0])
    with pytest.raises(KernelError, match="3-D PSF"):
        deconvolve(stack[0], np.ones((3, 3, 3)))
    with pytest.raises(ImgconvError, match="Z x Y x X"):
        deconvolve(np.zeros((4, 4)), np.ones((3, 3)), volume=True)
