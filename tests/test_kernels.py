"""Tests for imgconv.kernels: presets, parameters, kernel files, inline matrices, the CLI."""
import dataclasses
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import ndimage

import imgconv.kernels as kernels_module
import imgconv.kernels.files as kernel_files
from imgconv.cli import main
from imgconv.engine.separable import low_rank_factors
from imgconv.errors import KernelError
from imgconv.kernels import (
    Kernel,
    describe_kernel,
    is_separable,
    list_presets,
    load_kernel,
    parse_matrix_text,
)

REPO = Path(__file__).resolve().parents[1]
PRESET_NAMES = [name for name, _ in list_presets()]
SUM_ONE = ["identity", "box", "blur", "gaussian", "sharpen", "unsharp", "emboss", "motion", "disc"]
SUM_ZERO = ["edge", "laplacian", "log", "sobel", "prewitt", "scharr", "roberts", "kirsch"]
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def matrix(spec, i=0):
    return load_kernel(spec).matrices[i]


# ----------------------------------------------------------------------------
# The presets
# ----------------------------------------------------------------------------


def test_required_presets_are_listed_sorted_with_descriptions():
    required = {"identity", "box", "blur", "gaussian", "sharpen", "unsharp", "edge", "laplacian", "log",
                "sobel", "prewitt", "scharr", "emboss", "motion"}
    assert required <= set(PRESET_NAMES)
    assert PRESET_NAMES == sorted(PRESET_NAMES)
    assert len(PRESET_NAMES) == len(set(PRESET_NAMES))
    for name, description in list_presets():
        assert description and "\n" not in description, name


def test_every_static_preset_file_is_found_through_the_package():
    files = {p.stem for p in (REPO / "presets").glob("*.toml")}
    assert files and files <= set(PRESET_NAMES)


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_every_preset_loads_and_describes(name):
    k = load_kernel(name)
    assert k.name == name and k.slug == name
    assert k.description
    for m in k.matrices:
        assert m.dtype == np.float64 and m.ndim == 2 and np.isfinite(m).all()
        assert not m.flags.writeable
    text = describe_kernel(k)
    assert text.startswith(name) and "sum" in text and "separable" in text


@pytest.mark.parametrize("name", SUM_ONE)
def test_smoothing_and_sharpening_presets_sum_to_one(name):
    for m in load_kernel(name).matrices:
        assert m.sum() == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("name", SUM_ZERO)
def test_derivative_presets_sum_to_zero(name):
    for m in load_kernel(name).matrices:
        assert abs(m.sum()) < 1e-12


@pytest.mark.parametrize(
    "name, expected",
    [
        ("identity", [[1]]),
        ("sharpen", [[0, -1, 0], [-1, 5, -1], [0, -1, 0]]),
        ("laplacian", [[0, 1, 0], [1, -4, 1], [0, 1, 0]]),
        ("edge", [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]]),
        ("emboss", [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]]),
        ("blur", np.outer([1, 2, 1], [1, 2, 1]) / 16),
        ("box", np.full((3, 3), 1 / 9)),
        ("box:size=5", np.full((5, 5), 1 / 25)),
        ("box:size=4", np.full((4, 4), 1 / 16)),
    ],
)
def test_static_matrices_are_exact(name, expected):
    k = load_kernel(name)
    assert k.combine == "single"
    np.testing.assert_array_equal(k.matrices[0], np.asarray(expected, dtype=float))


def ramp(axis, n=9):
    """A linear ramp increasing along axis 1 (rightwards, +x) or 0 (downwards, +y)."""
    return np.mgrid[0:n, 0:n].astype(float)[axis]


@pytest.mark.parametrize("name", ["sobel", "prewitt", "scharr"])
def test_gradient_orientation_under_true_convolution(name):
    """x is positive where intensity increases to the right, y where it increases downwards."""
    kx, ky = load_kernel(f"{name}:direction=x"), load_kernel(f"{name}:direction=y")
    both = load_kernel(name)
    assert both.combine == "magnitude" and len(both.matrices) == 2
    np.testing.assert_array_equal(both.matrices[0], kx.matrices[0])
    np.testing.assert_array_equal(both.matrices[1], ky.matrices[0])
    right, down = ramp(1), ramp(0)
    inner = (slice(2, -2), slice(2, -2))
    gx_right = ndimage.convolve(right, kx.matrices[0], mode="nearest")[inner]
    gy_down = ndimage.convolve(down, ky.matrices[0], mode="nearest")[inner]
    assert (gx_right > 0).all() and (gy_down > 0).all()
    # the other derivative does not see the ramp; correlation reverses the sign
    assert np.allclose(ndimage.convolve(down, kx.matrices[0], mode="nearest")[inner], 0)
    assert np.allclose(ndimage.convolve(right, ky.matrices[0], mode="nearest")[inner], 0)
    assert (ndimage.correlate(right, kx.matrices[0], mode="nearest")[inner] < 0).all()
    # the gradient of a unit ramp is the sum of the kernel's positive column
    assert np.allclose(gx_right, 2 * kx.matrices[0][:, 0].sum())
    assert "true convolution" in kx.description and "right" in kx.description
    assert "downwards" in ky.description


def test_direction_both_is_the_default():
    assert load_kernel("sobel:direction=both").matrices[1].tolist() == load_kernel("sobel").matrices[1].tolist()
    assert load_kernel("sobel:direction=both").combine == "magnitude"
    assert load_kernel("sobel:direction=X").matrices[0].tolist() == [[1, 0, -1], [2, 0, -2], [1, 0, -1]]


def test_kirsch_and_roberts_are_multi_kernel_presets():
    kirsch, roberts = load_kernel("kirsch"), load_kernel("roberts")
    assert kirsch.combine == "max" and len(kirsch.matrices) == 8
    # the set is closed under the 180-degree flip, so convolution and correlation agree
    flipped = {m[::-1, ::-1].tobytes() for m in kirsch.matrices}
    assert flipped == {m.tobytes() for m in kirsch.matrices}
    assert roberts.combine == "magnitude" and [m.shape for m in roberts.matrices] == [(2, 2), (2, 2)]


@pytest.mark.parametrize("sigma, size", [(1, 7), (2, 13), (1.5, 11), (0.3, 3), (2.5, 17)])
def test_gaussian_default_size_sum_and_reference(sigma, size):
    m = matrix(f"gaussian:sigma={sigma}")
    assert m.shape == (size, size)
    assert m.sum() == pytest.approx(1, abs=1e-12)
    assert is_separable(m)
    np.testing.assert_allclose(m, m.T)
    np.testing.assert_allclose(m, m[::-1, ::-1])
    impulse = np.zeros((size, size))
    impulse[size // 2, size // 2] = 1
    reference = ndimage.gaussian_filter(impulse, sigma, truncate=(size // 2) / sigma, mode="constant")
    np.testing.assert_allclose(m, reference, atol=1e-12)


def test_gaussian_default_sigma_and_explicit_size():
    assert matrix("gaussian").shape == (7, 7)
    m = matrix("gaussian:sigma=2,size=5")
    assert m.shape == (5, 5) and m.sum() == pytest.approx(1, abs=1e-12)
    assert matrix("gaussian:size=1").tolist() == [[1.0]]
    tiny = matrix("gaussian:sigma=1e-300")
    assert tiny.shape == (3, 3) and tiny[1, 1] == 1 and tiny.sum() == 1


def test_unsharp_is_identity_plus_amount_times_detail():
    g = matrix("gaussian:sigma=2")
    m = matrix("unsharp:sigma=2,amount=1.5")
    delta = np.zeros_like(g)
    delta[6, 6] = 1
    np.testing.assert_allclose(m, 2.5 * delta - 1.5 * g, atol=1e-15)
    assert m.sum() == pytest.approx(1)
    np.testing.assert_array_equal(matrix("unsharp:amount=0"), np.pad([[1.0]], 3))


@pytest.mark.parametrize("sigma", [0.5, 1, 1.4, 2])
def test_log_is_zero_sum_negative_centre_and_a_laplacian(sigma):
    m = matrix(f"log:sigma={sigma}")
    half = m.shape[0] // 2
    assert m.shape[0] == 2 * int(np.ceil(4 * sigma)) + 1
    assert abs(m.sum()) < 1e-12 and m[half, half] < 0 and m[half, half] == m.min()
    np.testing.assert_allclose(m, m.T, atol=1e-15)
    # like 'laplacian', it gives 2 on x^2 and 0 on a linear ramp
    x = np.arange(-20.0, 21.0)
    quad = np.tile(x**2, (41, 1))
    lin = np.tile(3 * x + 1, (41, 1))
    assert ndimage.convolve(quad, m)[20, 20] == pytest.approx(2.0, rel=1e-9)
    assert ndimage.convolve(quad, matrix("laplacian"))[20, 20] == pytest.approx(2.0)
    assert abs(ndimage.convolve(lin, m)[20, 20]) < 1e-9
    assert matrix(f"log:sigma={sigma},size=5").shape == (5, 5)


def test_motion_blur_lines():
    np.testing.assert_allclose(matrix("motion:length=5"), np.pad(np.full((1, 5), 0.2), ((2, 2), (0, 0))), atol=1e-15)
    np.testing.assert_allclose(matrix("motion:length=7,angle=90"), matrix("motion:length=7").T, atol=1e-15)
    np.testing.assert_allclose(matrix("motion:length=9,angle=30"), matrix("motion:length=9,angle=210"))
    np.testing.assert_allclose(matrix("motion:length=9,angle=180"), matrix("motion:length=9,angle=0"))
    even = matrix("motion:length=4")
    np.testing.assert_allclose(even[2], [0.125, 0.25, 0.25, 0.25, 0.125])
    assert matrix("motion").shape == (9, 9)
    for spec in ["motion:length=15,angle=30", "motion:length=6,angle=45", "motion:length=20,angle=-73.5"]:
        m = matrix(spec)
        assert m.shape[0] == m.shape[1] and m.shape[0] % 2 == 1
        assert m.sum() == pytest.approx(1) and (m >= 0).all()
        np.testing.assert_allclose(m, m[::-1, ::-1], atol=1e-15)  # a line through the anchor


def test_motion_angle_is_counter_clockwise_on_screen():
    m = matrix("motion:length=7,angle=45")  # through the anchor, up and to the right
    c = m.shape[0] // 2
    assert m[c - 2, c + 2] > 0 and m[c + 2, c - 2] > 0 and m[c - 2, c - 2] == 0 and m[c + 2, c + 2] == 0
    np.testing.assert_allclose(m, m.T[::-1, ::-1], atol=1e-15)  # mirror-symmetric about its own line
    m = matrix("motion:length=7,angle=-45")
    assert m[c - 2, c - 2] > 0 and m[c - 2, c + 2] == 0
    m = matrix("motion:length=7,angle=90")  # straight up (and down): one column
    assert (m[:, c] > 0).all() and m.sum(axis=0)[c] == pytest.approx(1)


def test_disc():
    m = matrix("disc:radius=3")
    assert m.shape == (7, 7) and m.sum() == pytest.approx(1)
    np.testing.assert_allclose(m, m.T, atol=1e-15)
    np.testing.assert_allclose(m, m[::-1], atol=1e-15)
    assert m[3, 3] == pytest.approx(1 / (np.pi * 9), rel=0.01)  # fully covered pixel
    assert m[0, 0] == 0
    assert matrix("disc:radius=0.4").shape == (1, 1)


# ----------------------------------------------------------------------------
# Parameters and their errors
# ----------------------------------------------------------------------------


def test_parameter_spelling_is_tolerant_and_names_are_canonical():
    k = load_kernel(" Gaussian : Sigma = 2.5 , size=7 ")
    assert k.name == "gaussian:sigma=2.5,size=7" and k.matrices[0].shape == (7, 7)
    assert k.slug == "gaussian-sigma2.5-size7"


@pytest.mark.parametrize(
    "spec, message",
    [
        ("gaussian:sigma=-1", "gaussian: sigma must be > 0 (got -1)"),
        ("gaussian:sigma=0", "sigma must be > 0"),
        ("gaussian:sigma=abc", "sigma must be a number (got 'abc')"),
        ("gaussian:sigma=nan", "must be a number"),
        ("gaussian:sigma=inf", "must be a number"),
        ("gaussian:sigma=1_0", "must be a number"),
        ("gaussian:size=4", "size must be odd"),
        ("gaussian:size=0", "size must be >= 1"),
        ("gaussian:size=2.5", "size must be a whole number"),
        ("gaussian:sgma=1", "unknown parameter 'sgma' (expected: sigma, size)"),
        ("gaussian:sigma=1e6", "kernel too large"),
        ("gaussian:sigma=400", "kernel too large"),
        ("gaussian:size=99999", "kernel too large"),
        ("gaussian:", "empty parameter list"),
        ("gaussian:sigma", "expected key=value"),
        ("gaussian:sigma=1,,size=3", "expected key=value"),
        ("gaussian:sigma=1,sigma=2", "given twice"),
        ("box:size=0", "size must be >= 1"),
        ("box:size=5000", "kernel too large"),
        ("box:size=3000", "kernel too large"),
        ("log:size=1", "size must be >= 3"),
        ("unsharp:amount=-1", "amount must be >= 0"),
        ("unsharp:size=6", "size must be odd"),
        ("motion:length=0", "length must be > 0"),
        ("motion:length=1e5", "kernel too large"),
        ("motion:angle=north", "angle must be a number"),
        ("disc:radius=-2", "radius must be > 0"),
        ("disc:radius=1e9", "kernel too large"),
        ("sobel:direction=z", "direction must be one of x|y|both"),
        ("sobel:size=3", "unknown parameter 'size' (expected: direction)"),
        ("sharpen:size=3", "sharpen: takes no parameters"),
        ("identity:x=1", "takes no parameters"),
    ],
)
def test_parameter_errors(spec, message):
    with pytest.raises(KernelError) as info:
        load_kernel(spec)
    assert message in str(info.value)
    assert info.value.path is None


# ----------------------------------------------------------------------------
# Inline matrices and the text parser
# ----------------------------------------------------------------------------


def test_inline_matrix():
    k = load_kernel("0,-1,0; -1,5,-1; 0,-1,0")
    assert k.name == "inline" and k.slug == "custom" and k.combine == "single"
    np.testing.assert_array_equal(k.matrices[0], matrix("sharpen"))
    np.testing.assert_array_equal(matrix("1 2 1;2 4 2;1 2 1"), np.outer([1, 2, 1], [1, 2, 1]))
    assert matrix("5").tolist() == [[5.0]]
    assert matrix("1/16, -3/8 ;  2.5e-1 -.5").tolist() == [[1 / 16, -3 / 8], [0.25, -0.5]]


@pytest.mark.parametrize(
    "text, message",
    [
        ("1,2;3", "inline kernel: row 2 has 1 values but row 1 has 2"),
        ("1,2;3,x", "unknown kernel"),  # letters: not a matrix at all
        ("1/0", "division by zero in '1/0'"),
        ("1e999", "out of range"),
        ("1 2 ; ; ", None),  # trailing empty rows are ignored: a valid 1x2
    ],
)
def test_inline_errors(text, message):
    if message is None:
        assert matrix(text).shape == (1, 2)
        return
    with pytest.raises(KernelError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_kernel(text)


def test_parse_matrix_text_formats():
    text = "\ufeff# a comment line\n\n 1/16, 1/8 , 1/16   # trailing comment\r\n1/8\t1/4\t1/8\n1/16 1/8 1/16,\n\n"
    m = parse_matrix_text(text)
    np.testing.assert_array_equal(m, np.outer([1, 2, 1], [1, 2, 1]) / 16)
    assert m.dtype == np.float64 and m.flags.writeable
    assert parse_matrix_text("+1 -2 3.  .5 1E2 -1e-2").tolist() == [[1, -2, 3, 0.5, 100, -0.01]]
    assert parse_matrix_text("-3/8 3/-8 1.5/0.5").tolist() == [[-0.375, -0.375, 3.0]]


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty kernel"),
        ("# only a comment\n\n  \n", "empty kernel"),
        ("1 2 3\n4 5\n", "line 2 has 2 values but line 1 has 3"),
        ("1 2\n\n# c\n3 4 5", "line 4 has 3 values but line 1 has 2"),
        ("1 2\n3 x\n", "line 2: 'x' is not a number"),
        ("1 nan", "'nan' is not allowed (values must be finite)"),
        ("1 -Inf", "'-Inf' is not allowed"),
        ("1 infinity", "not allowed"),
        ("1/0 1", "division by zero in '1/0'"),
        ("0/0", "division by zero"),
        ("1e400", "'1e400' is out of range"),
        ("1e300/1e-300", "out of range"),
        ("1_000", "'1_000' is not a number"),
        ("__import__('os').system('true')", "is not a number"),
        ("0x10", "'0x10' is not a number"),
        ("1 \u0661", "is not a number"),  # only ASCII digits
        ("1e5e5", "is not a number"),
        ("1 - 2", "'-' is not a number"),
        ("1/2/3", "'1/2/3' is not a number"),
        ("1 2 3 4 5", None),
    ],
)
def test_parse_matrix_text_errors(text, message):
    if message is None:
        assert parse_matrix_text(text).shape == (1, 5)
        return
    with pytest.raises(KernelError) as info:
        parse_matrix_text(text, source="k.txt")
    assert message in str(info.value)
    assert info.value.path == "k.txt"


def test_parse_matrix_text_bounds():
    with pytest.raises(KernelError, match="kernel too large"):
        parse_matrix_text(" ".join(["1"] * 4098))
    with pytest.raises(KernelError, match="kernel too large"):
        parse_matrix_text("1\n" * 4098)
    with pytest.raises(KernelError, match="kernel too large"):
        parse_matrix_text((" ".join(["0"] * 2100) + "\n") * 2100)
    assert parse_matrix_text((" ".join(["0"] * 2048) + "\n") * 4).shape == (4, 2048)


# ----------------------------------------------------------------------------
# Kernel files
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("ext", [".txt", ".csv", ".kernel", ".TXT"])
def test_text_kernel_files(tmp_path, ext):
    path = tmp_path / f"edges{ext}"
    path.write_text("# Laplacian\n0, 1, 0\n1, -4, 1\n0, 1, 0\n")
    for spec in (str(path), path):
        k = load_kernel(spec)
        assert k.name == str(path) and k.slug == "edges"
        np.testing.assert_array_equal(k.matrices[0], matrix("laplacian"))


def test_text_file_errors_name_the_file(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("1 2 3\n4 5\n")
    with pytest.raises(KernelError) as info:
        load_kernel(str(path))
    assert info.value.path == str(path) and "line 2 has 2 values" in str(info.value)
    path.write_bytes(b"1 2 \xff\xfe\n")
    with pytest.raises(KernelError, match="not a UTF-8 text file"):
        load_kernel(str(path))
    path.write_text("   \n# nothing\n")
    with pytest.raises(KernelError, match="empty kernel"):
        load_kernel(str(path))


def test_missing_wrong_and_oversized_files(tmp_path, monkeypatch):
    missing = tmp_path / "nope.txt"
    with pytest.raises(KernelError) as info:
        load_kernel(str(missing))
    assert info.value.path == str(missing) and info.value.message == "no such kernel file"
    folder = tmp_path / "dir.csv"
    folder.mkdir()
    with pytest.raises(KernelError, match="not a file"):
        load_kernel(str(folder))
    other = tmp_path / "kernel.dat"
    other.write_text("1 2 1")
    with pytest.raises(KernelError, match="unsupported kernel file extension '.dat'"):
        load_kernel(str(other))
    with pytest.raises(KernelError, match="unsupported kernel file extension"):
        load_kernel(other)
    big = tmp_path / "big.txt"
    big.write_text("1 " * 100)
    monkeypatch.setattr(kernel_files, "MAX_KERNEL_FILE_BYTES", 50)
    with pytest.raises(KernelError, match="kernel file too large"):
        load_kernel(str(big))
    np.save(tmp_path / "big.npy", np.ones((10, 10)))
    with pytest.raises(KernelError, match="kernel file too large"):
        load_kernel(str(tmp_path / "big.npy"))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16, np.uint8, np.bool_, np.float16])
def test_npy_kernels(tmp_path, dtype):
    data = (np.arange(6).reshape(2, 3) % 2).astype(dtype)
    path = tmp_path / "k.npy"
    np.save(path, data)
    k = load_kernel(str(path))
    assert k.slug == "k" and k.matrices[0].dtype == np.float64
    np.testing.assert_array_equal(k.matrices[0], data.astype(np.float64))
    np.save(path, np.asfortranarray(np.arange(6.0).reshape(2, 3)))
    np.testing.assert_array_equal(matrix(str(path)), np.arange(6.0).reshape(2, 3))


def _npy_header(shape, descr="<f8"):
    header = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode()
    header += b" " * (118 - len(header)) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: np.save(p, np.array([[1, None]], dtype=object)), "Python objects are refused"),
        (lambda p: np.save(p, np.ones((2, 2, 2, 2))), "2-D matrix (got 4-D"),  # (3-D: a kernel for volumes)
        (lambda p: np.save(p, np.ones(3)), "2-D matrix (got 1-D"),
        (lambda p: np.save(p, np.ones((2, 2), complex)), "real numbers"),
        (lambda p: np.save(p, np.array([["a", "b"]])), "real numbers"),
        (lambda p: np.save(p, np.zeros((0, 3))), "empty"),
        (lambda p: np.save(p, np.array([[1.0, np.nan]])), "finite"),
        (lambda p: np.save(p, np.array([[1.0, np.inf]])), "finite"),
        (lambda p: np.save(p, np.zeros((1, 2), dtype=[("a", "f4"), ("b", "f4")])), "real numbers"),
        (lambda p: p.write_bytes(b"not a numpy file at all"), "cannot read .npy"),
        (lambda p: p.write_bytes(b""), "cannot read .npy"),
        (lambda p: p.write_bytes(_npy_header((4, 4)) + b"\0" * 16), "truncated"),
        (lambda p: p.write_bytes(_npy_header((5000, 5000)) + b"\0" * 16), "kernel too large"),
        (lambda p: p.write_bytes(_npy_header((10**12, 10**12)) + b"\0" * 16), "kernel too large"),
        (lambda p: p.write_bytes(_npy_header((2, 2), descr="|O")), "Python objects are refused"),
        (lambda p: p.write_bytes(_npy_header((2, 2), descr="<zz9")), "cannot read .npy"),
    ],
)
def test_npy_errors(tmp_path, make, message):
    path = tmp_path / "bad.npy"
    make(path)
    with pytest.raises(KernelError) as info:
        load_kernel(str(path))
    assert message in str(info.value)
    assert info.value.path == str(path)


def test_npy_truncated_data(tmp_path):
    path = tmp_path / "cut.npy"
    np.save(path, np.ones((8, 8)))
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(KernelError, match="truncated"):
        load_kernel(str(path))


def test_toml_single_matrix_with_options(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(
        'description = "my emboss"\nscale = 2\noffset = 0.5\nnormalize = true\n'
        'matrix = [[-1, 0, "0"], [0, 1, 0], ["1/2", 0, 1.5]]\n'
    )
    k = load_kernel(str(path))
    assert (k.description, k.scale, k.offset, k.normalize, k.combine) == ("my emboss", 2.0, 0.5, True, "single")
    assert k.slug == "mine"
    np.testing.assert_array_equal(k.matrices[0], [[-1, 0, 0], [0, 1, 0], [0.5, 0, 1.5]])


def test_toml_several_kernels(tmp_path):
    path = tmp_path / "grad.toml"
    path.write_text(
        'combine = "max"\n[[kernels]]\nname = "a"\nmatrix = [[1, -1]]\n'
        '[[kernels]]\ndescription = "second"\nmatrix = [[1], [-1]]\n'
    )
    k = load_kernel(str(path))
    assert k.combine == "max" and [m.shape for m in k.matrices] == [(1, 2), (2, 1)]
    assert k.description == "from grad.toml"


@pytest.mark.parametrize(
    "text, message",
    [
        ("matrix = [[1]]\nscael = 2\n", "unknown key 'scael'"),
        ('combine = "sum"\n[[kernels]]\nmatrix = [[1]]\nweight = 2\n', "unknown key 'weight' in kernels[1]"),
        ("matrix = [[1, 2], [3]]\n", "matrix row 2 has 1 values but row 1 has 2"),
        ('matrix = [[1, "x"]]\n', "matrix row 1 value 2: 'x' is not a number"),
        ('matrix = [[1, "1/0"]]\n', "division by zero"),
        ("matrix = [[1, true]]\n", "got a boolean"),
        ("matrix = [[1, [2]]]\n", "expected a number (got a list)"),
        ("matrix = [[1, nan]]\n", "values must be finite"),
        ("matrix = [[1, inf]]\n", "values must be finite"),
        ("matrix = []\n", "non-empty list of rows"),
        ("matrix = [[], []]\n", "is empty"),
        ("matrix = [1, 2]\n", "list of rows"),
        ('matrix = "1 2 3"\n', "non-empty list of rows (got a string)"),
        ("description = 3\nmatrix = [[1]]\n", "'description' must be a string"),
        ('combine = "avg"\nmatrix = [[1]]\n', "'combine' must be one of"),
        ("combine = 1\nmatrix = [[1]]\n", "'combine' must be one of"),
        ("[[kernels]]\nmatrix = [[1]]\n[[kernels]]\nmatrix = [[2]]\n", "2 kernels need 'combine'"),
        ('combine = "single"\n[[kernels]]\nmatrix = [[1]]\n[[kernels]]\nmatrix = [[2]]\n', "exactly one matrix"),
        ("matrix = [[1]]\n[[kernels]]\nmatrix = [[2]]\n", "exactly one of 'matrix' or '[[kernels]]'"),
        ('description = "nothing"\n', "exactly one of"),
        ("kernels = 3\n", "non-empty array of tables"),
        ("kernels = []\n", "non-empty array of tables"),
        ('combine = "sum"\n[[kernels]]\nname = "x"\n', "kernels[1] has no 'matrix'"),
        ('[[kernels]]\nname = 1\nmatrix = [[1]]\n', "kernels[1].name must be a string"),
        ("scale = true\nmatrix = [[1]]\n", "'scale' must be a number"),
        ('offset = "0.5"\nmatrix = [[1]]\n', "'offset' must be a number"),
        ("scale = nan\nmatrix = [[1]]\n", "'scale' must be finite"),
        ('normalize = "yes"\nmatrix = [[1]]\n', "'normalize' must be true or false"),
        ("matrix = [[1, 2]\n", "invalid TOML"),
        ("matrix = " + "[" * 5000 + "]" * 5000 + "\n", "invalid TOML"),
    ],
)
def test_toml_errors(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(KernelError) as info:
        load_kernel(str(path))
    assert message in str(info.value)
    assert info.value.path == str(path)


def test_toml_file_size_bounds(tmp_path):
    path = tmp_path / "wide.toml"
    path.write_text("matrix = [[" + ", ".join(["1"] * 4098) + "]]\n")
    with pytest.raises(KernelError, match="kernel too large"):
        load_kernel(str(path))


def test_preset_files_are_user_kernel_files(tmp_path):
    """A copy of a shipped preset file loads as a user .toml with the same content."""
    for name in ("sobel", "blur", "kirsch"):
        copy = tmp_path / f"{name}.toml"
        copy.write_text((REPO / "presets" / f"{name}.toml").read_text())
        user, preset = load_kernel(str(copy)), load_kernel(name)
        assert user.combine == preset.combine
        assert all(np.array_equal(a, b) for a, b in zip(user.matrices, preset.matrices))


# ----------------------------------------------------------------------------
# Spec resolution, arrays, the Kernel model
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("spec", ["foo", "foo:bar=1", "sobell", "edges", "1,2;x", "-k"])
def test_unknown_spec(spec, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(KernelError) as info:
        load_kernel(spec)
    assert str(info.value) == f"unknown kernel {spec!r} (not a preset, file or matrix; see 'imgconv kernels')"


@pytest.mark.parametrize("spec", ["", "   ", b"sobel"])
def test_empty_or_wrong_type_spec(spec):
    with pytest.raises(KernelError):
        load_kernel(spec)


def test_arrays_and_kernels_as_specs():
    k = load_kernel([[1, 2, 1]])
    assert k.name == "array" and k.slug == "array" and k.matrices[0].tolist() == [[1, 2, 1]]
    assert load_kernel(k) is k
    assert load_kernel(np.eye(3, dtype=np.float32)).matrices[0].dtype == np.float64
    for bad, message in [
        (np.ones((2, 2, 2, 2)), "2-D"),  # (3-D is a kernel for volumes)
        (np.ones(3), "2-D"),
        (np.ones((2, 2), complex), "real numbers"),
        ([[1, 2], [3]], "rectangular"),
        ([[1, np.nan]], "finite"),
        (np.zeros((0, 0)), "empty"),
        (np.zeros((4098, 1)), "kernel too large"),
        ([["a"]], "real numbers"),
    ]:
        with pytest.raises(KernelError, match=message):
            load_kernel(bad)


def test_kernel_model():
    source = np.array([[1.0, 2.0], [3.0, 4.0]])
    k = Kernel("inline", (source,))
    source[0, 0] = 99  # the kernel owns a copy
    assert k.matrices[0][0, 0] == 1
    with pytest.raises(ValueError):
        k.matrices[0][0, 0] = 5
    with pytest.raises(dataclasses.FrozenInstanceError):
        k.scale = 2
    assert Kernel("x", np.ones((2, 2))).matrices[0].shape == (2, 2)  # a bare array is wrapped
    assert k == Kernel("inline", (np.array([[1, 2], [3, 4]]),))
    assert hash(k) == hash(Kernel("inline", (np.array([[1, 2], [3, 4]]),)))
    assert k != Kernel("inline", (np.array([[1, 2], [3, 5]]),))
    assert k != Kernel("inline", (np.array([[1, 2, 3, 4]]),))
    assert "2x2" in repr(k) and "inline" in repr(k)
    with pytest.raises(KernelError, match="combine must be one of"):
        Kernel("x", (source,), combine="mean")
    with pytest.raises(KernelError, match="2 matrices need combine"):
        Kernel("x", (source, source))
    with pytest.raises(KernelError, match="non-empty"):
        Kernel("x", ())
    with pytest.raises(KernelError, match="scale must be a number"):
        Kernel("x", (source,), scale="2")
    with pytest.raises(KernelError, match="offset must be finite"):
        Kernel("x", (source,), offset=float("inf"))
    assert load_kernel("sobel").shape == (3, 3)


def test_normalized():
    k = Kernel("x", (np.array([[1.0, 2.0, 1.0]]), np.array([[1.0, 0.0, -1.0]])), combine="sum", normalize=True)
    n = k.normalized()
    assert n.normalize is False and n.combine == "sum" and n.name == "x"
    assert n.matrices[0].tolist() == [[0.25, 0.5, 0.25]]
    assert n.matrices[1].tolist() == [[1.0, 0.0, -1.0]]  # sum ~0: left as is
    assert not n.matrices[0].flags.writeable
    tiny = Kernel("t", (np.array([[1.0, -1.0 + 1e-12]]),)).normalized()
    assert tiny.matrices[0].tolist() == [[1.0, -1.0 + 1e-12]]
    assert load_kernel("sharpen").normalized().matrices[0].tolist() == matrix("sharpen").tolist()


@pytest.mark.parametrize(
    "spec, slug",
    [
        ("sobel", "sobel"),
        ("gaussian:sigma=2.5", "gaussian-sigma2.5"),
        ("motion:length=15,angle=30", "motion-length15-angle30"),
        ("motion:length=15,angle=-30", "motion-length15-angle-30"),
        ("sobel:direction=x", "sobel-directionx"),
        ("1 2 1", "custom"),
    ],
)
def test_slugs(spec, slug):
    assert load_kernel(spec).slug == slug


def test_slug_of_files_and_odd_names():
    m = (np.ones((1, 1)),)
    assert Kernel("some/dir/edges.txt", m).slug == "edges"
    assert Kernel("C:\\kernels\\My Kernel.npy", m).slug == "My_Kernel"
    assert Kernel("a.b/weird name!.toml", m).slug == "weird_name"
    assert Kernel("../..", m).slug == "kernel"
    for name in ("x/y:z", "a\0b", "é", "*?<>|"):
        slug = Kernel(name, m).slug
        assert slug and "/" not in slug and "\0" not in slug and slug not in (".", "..")


def test_is_separable():
    assert is_separable(np.outer([1, 2, 1], [1, 0, -1]))
    assert is_separable(np.zeros((3, 3))) and is_separable([[1, 2, 3]])
    assert not is_separable(matrix("laplacian")) and not is_separable(np.eye(4))
    assert is_separable(matrix("gaussian:sigma=3"))


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_is_separable_is_the_engine_rule(name):
    for m in load_kernel(name).matrices:
        assert is_separable(m) == (low_rank_factors(m)[0].shape[0] == 1)


def test_is_separable_agrees_with_describe_on_a_nearly_rank_one_matrix():
    # singular values 6, 1e-8, 1e-8: a plain ratio test (1e-9) says rank 3; the engine's error budget rank 1
    m = np.outer([1, 2, 1], [1, 2, 1]) + 1e-8 * np.eye(3)
    assert is_separable(m)
    assert "separable: yes" in describe_kernel(Kernel("nearly", (m,)))


def test_describe_kernel():
    sobel = describe_kernel(load_kernel("sobel"))
    assert sobel.count("3x3 (W x H), sum 0, separable: yes") == 2
    assert "matrix 1 of 2" in sobel and "magnitude" in sobel
    assert "     1  0 -1\n     2  0 -2\n     1  0 -1" in sobel
    blur = describe_kernel(load_kernel("blur"))
    assert "1/16  1/8 1/16" in blur and "sum 1," in blur
    assert "separable: no" in describe_kernel(load_kernel("edge"))
    big = describe_kernel(load_kernel("gaussian:sigma=5"))
    assert "31x31 (W x H)" in big and "centre 15x15 of 31x31 shown" in big
    assert max(len(line) for line in big.splitlines()) < 200
    k = Kernel("k", (np.array([[0.1, 1 / 3]]),), scale=2, offset=0.5, normalize=True)
    text = describe_kernel(k)
    assert "0.1 1/3" in text.replace("  ", " ") and "scale: 2, offset: 0.5, normalize: yes" in text


# ----------------------------------------------------------------------------
# Fuzzing: the only outcomes are a Kernel or a KernelError
# ----------------------------------------------------------------------------

MATRIXISH = st.text(alphabet="0123456789.,;/+-eE #\n\t", max_size=80)


@FUZZ
@given(st.one_of(st.text(max_size=120), MATRIXISH))
def test_fuzz_parse_matrix_text(text):
    try:
        m = parse_matrix_text(text)
    except KernelError as exc:
        assert str(exc)
    else:
        assert m.ndim == 2 and m.size and np.isfinite(m).all()


@FUZZ
@given(st.one_of(st.text(max_size=80), MATRIXISH, st.from_regex(r"(gaussian|box|motion|log|sobel|disc|unsharp):[a-z=0-9.,\-e]{0,20}", fullmatch=True)))
def test_fuzz_load_kernel_text(text):
    try:
        k = load_kernel(text)
    except KernelError as exc:
        assert str(exc)
    else:
        assert isinstance(k, Kernel) and all(np.isfinite(m).all() for m in k.matrices)


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


@FUZZ
@given(st.binary(max_size=300), st.sampled_from([".txt", ".csv", ".npy", ".toml"]))
def test_fuzz_kernel_files_from_bytes(fuzz_dir, data, ext):
    path = fuzz_dir / f"k{ext}"
    path.write_bytes(data)
    try:
        k = load_kernel(str(path))
    except KernelError as exc:
        assert exc.path == str(path)
    else:
        assert all(np.isfinite(m).all() for m in k.matrices)


@FUZZ
@given(st.binary(max_size=200), st.sampled_from([b"\x01\x00", b"\x02\x00", b"\x03\x00", b"\x01\x00v\x00"]))
def test_fuzz_npy_with_valid_magic(fuzz_dir, data, version):
    path = fuzz_dir / "magic.npy"
    path.write_bytes(b"\x93NUMPY" + version + data)
    try:
        k = load_kernel(str(path))
    except KernelError as exc:
        assert exc.path == str(path)
    else:
        assert isinstance(k, Kernel) and len(k.matrices) == 1
        assert k.matrices[0].ndim == 2 and np.isfinite(k.matrices[0]).all()


TOML_VALUES = st.recursive(
    st.one_of(st.integers(-5, 5), st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
              st.sampled_from(['"1/4"', '"x"', '"sum"', '"magnitude"', '""'])),
    lambda inner: st.lists(inner, max_size=4).map(lambda items: "[" + ", ".join(map(str, items)) + "]"),
    max_leaves=12,
).map(lambda v: str(v).replace("True", "true").replace("False", "false"))


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(["matrix", "scale", "offset", "normalize", "combine", "description", "kernels", "other"]), TOML_VALUES), max_size=5))
def test_fuzz_toml_documents(fuzz_dir, items):
    path = fuzz_dir / "doc.toml"
    path.write_text("\n".join(f"{key} = {value}" for key, value in items))
    try:
        k = load_kernel(str(path))
    except KernelError as exc:
        assert exc.path == str(path)
    else:
        assert all(np.isfinite(m).all() for m in k.matrices)


# ----------------------------------------------------------------------------
# The `imgconv kernels` command
# ----------------------------------------------------------------------------


def test_cli_lists_presets_aligned():
    result = CliRunner().invoke(main, ["kernels"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line.split()[0] for line in lines] == PRESET_NAMES
    columns = {len(line) - len(line[len(line.split()[0]):].lstrip()) for line in lines}
    assert len(columns) == 1  # descriptions start in one column


def test_cli_shows_sobel_and_gaussian():
    runner = CliRunner()
    result = runner.invoke(main, ["kernels", "sobel"])
    assert result.exit_code == 0 and "matrix 2 of 2" in result.output and "separable: yes" in result.output
    result = runner.invoke(main, ["kernels", "gaussian:sigma=1.5"])
    assert result.exit_code == 0 and "11x11 (W x H), sum 1, separable: yes" in result.output
    result = runner.invoke(main, ["kernels", "0,-1,0; -1,5,-1; 0,-1,0"])
    assert result.exit_code == 0 and "sum 1" in result.output


def test_cli_unknown_kernel_raises_kernel_error_under_click():
    result = CliRunner().invoke(main, ["kernels", "nope"])
    assert isinstance(result.exception, KernelError)


@pytest.mark.parametrize("spec, message", [("nope", "unknown kernel 'nope'"), ("gaussian:sigma=-1", "sigma must be > 0")])
def test_cli_errors_exit_2_with_one_line(spec, message):
    proc = subprocess.run([sys.executable, "-m", "imgconv", "kernels", spec], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("imgconv: error: ") and message in lines[0]
    assert proc.stdout == ""


def test_cli_module_imports_only_click():
    code = "import sys, imgconv.cli.kernels_cmd; print(sorted(m for m in ('numpy', 'scipy', 'PIL') if m in sys.modules))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == "[]"


def test_package_exports_resolve():
    for name in kernels_module.__all__:
        assert getattr(kernels_module, name) is not None, name
    assert set(kernels_module.__all__) <= set(dir(kernels_module))
    assert kernels_module.Kernel is Kernel and kernels_module.load_kernel is load_kernel
    with pytest.raises(AttributeError):
        kernels_module.no_such_name


def test_cli_listing_does_not_import_numpy():
    code = ("import sys; from imgconv.cli import run\n"
            "try: run(['kernels'])\n"
            "except SystemExit: pass\n"
            "print(sorted(m for m in ('numpy', 'scipy', 'PIL') if m in sys.modules), file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "sobel" in proc.stdout and proc.stderr.strip() == "[]", proc.stderr


def test_missing_preset_files_are_a_clear_error(monkeypatch, tmp_path):
    """Static presets come only from the package imgconv.presets: no fallback to a checkout's folder."""
    from imgconv.kernels import presets

    message = "imgconv installation is incomplete: preset files missing"
    presets.preset_files.cache_clear()
    try:
        with monkeypatch.context() as patch:
            patch.setitem(sys.modules, "imgconv.presets", None)  # the package cannot be imported
            with pytest.raises(KernelError, match=message):
                list_presets()
            with pytest.raises(KernelError, match=message):
                load_kernel("sobel")
        presets.preset_files.cache_clear()
        with monkeypatch.context() as patch:
            patch.setattr(presets.resources, "files", lambda package: tmp_path)  # a package without the TOML files
            with pytest.raises(KernelError, match=message):
                list_presets()
    finally:
        presets.preset_files.cache_clear()
    assert "sobel" in dict(list_presets())


def test_matrix_printout_is_all_exact_or_all_decimal():
    """Exact fractions only when every value shown has one; otherwise every value is a decimal."""
    text = describe_kernel(load_kernel("motion:length=9,angle=30"))
    lines = text.splitlines()
    rows = [line.split() for line in lines[3:12]]
    assert [len(row) for row in rows] == [9] * 9
    values = [v for row in rows for v in row]
    assert not any("/" in v for v in values)  # 3/64, 1/18, 25/256... were printed beside 0.072483
    assert "0.046875" in values and "0.072483" in values
    np.testing.assert_allclose(np.array(rows, float), matrix("motion:length=9,angle=30"), rtol=1e-4, atol=1e-12)
    assert "1/16  1/8 1/16" in describe_kernel(load_kernel("blur"))  # all exact: fractions stay
    row = describe_kernel(Kernel("k", (np.array([[1 / 9, 0.07248333, 0.5]]),))).splitlines()[3].split()
    assert row == ["0.11111", "0.072483", "0.5"]


def test_fraction_display_is_exact():
    k = Kernel("f", (np.array([[Fraction(3, 8), -1 / 3, 0.3, 1e-7]], dtype=float),))
    row = describe_kernel(k).splitlines()[3].split()
    assert row == ["3/8", "-1/3", "0.3", "1e-07"]
