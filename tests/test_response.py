"""Frequency response of kernels: analytic transforms, the summary, `kernels --response/--json/--plot`."""
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import imgconv
from imgconv.errors import KernelError
from imgconv.kernels import load_kernel
from imgconv.response import format_response, frequency_response, response_summary

ENV = dict(os.environ)  # subprocesses import the installed imgconv, as the suite does


def grid(shape):
    fy, fx = np.meshgrid(np.fft.fftfreq(shape[0]), np.fft.fftfreq(shape[1]), indexing="ij")
    return fy, fx


def dtft(k, fy, fx):
    """The response straight from the definition, anchor (h // 2, w // 2)."""
    h, w = k.shape
    m, n = np.meshgrid(np.arange(h) - h // 2, np.arange(w) - w // 2, indexing="ij")
    phase = np.exp(-2j * np.pi * (fy[..., None, None] * m + fx[..., None, None] * n))
    return (phase * k).sum((-2, -1))


def summary(spec):
    return response_summary(spec)["matrices"][0]


# ---------------------------------------------------------------- analytic transforms


def dirichlet(n, f):
    f = np.asarray(f, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        d = np.sin(np.pi * n * f) / (n * np.sin(np.pi * f))
    return np.where(np.abs(np.sin(np.pi * f)) < 1e-12, 1.0, d)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 10])
def test_box_is_a_dirichlet_kernel(n):
    shape = (32, 48)
    fy, fx = grid(shape)
    c = n // 2
    # sum_{m<n} exp(-2 pi i f (m - c)) = D_n(f) * exp(-i pi f (n - 1 - 2c)): real for odd n
    expected = dirichlet(n, fy) * dirichlet(n, fx) * np.exp(-1j * np.pi * (fy + fx) * (n - 1 - 2 * c))
    got = frequency_response(f"box:size={n}", shape)
    assert np.abs(got - expected).max() < 1e-12
    assert got.shape == shape and got.dtype == np.complex128


@pytest.mark.parametrize("sigma", [0.8, 1.0, 2.0, 3.5])
def test_sampled_gaussian_matches_the_continuous_transform(sigma):
    fy, fx = grid((64, 64))
    got = frequency_response(f"gaussian:sigma={sigma}", (64, 64))
    assert np.abs(got.imag).max() < 1e-12  # symmetric: zero phase

    def periodic(f):  # sampling makes the continuous transform periodic (Poisson summation)
        return sum(np.exp(-2 * np.pi**2 * sigma**2 * (f + n) ** 2) for n in range(-3, 4))

    expected = periodic(fx) * periodic(fy) / periodic(0.0) ** 2  # the preset is normalised to sum 1
    assert np.abs(got.real - expected).max() < 3e-3  # what is left: the 3-sigma truncation
    if sigma >= 2:  # aliasing is then negligible: the continuous Gaussian itself
        continuous = np.exp(-2 * np.pi**2 * sigma**2 * (fx**2 + fy**2))
        assert np.abs(got.real - continuous).max() < 3e-3


def test_laplacian_is_minus_two_minus_two_cos_per_axis():
    fy, fx = grid((40, 40))
    expected = -(2 - 2 * np.cos(2 * np.pi * fx)) - (2 - 2 * np.cos(2 * np.pi * fy))
    assert np.abs(frequency_response("laplacian", (40, 40)) - expected).max() < 1e-12


def test_a_shift_is_a_pure_phase_in_the_convolution_convention():
    # convolving with [0, 0, 1] moves the picture one pixel right: out[x] = in[x - 1]
    fx = np.fft.fftfreq(16)
    got = frequency_response([[0, 0, 1]], (1, 16))[0]
    assert np.abs(got - np.exp(-2j * np.pi * fx)).max() < 1e-12
    img = np.random.default_rng(0).random((1, 16))
    out = imgconv.convolve(img, [[0, 0, 1]], mode="wrap")
    assert np.allclose(np.fft.fft(out[0]), np.fft.fft(img[0]) * got, atol=1e-5)


@settings(max_examples=40, deadline=None)
@given(h=st.integers(1, 9), w=st.integers(1, 9), ny=st.integers(1, 12), nx=st.integers(1, 12),
       seed=st.integers(0, 2**31 - 1))
def test_any_kernel_any_grid_equals_the_definition(h, w, ny, nx, seed):
    k = np.random.default_rng(seed).standard_normal((h, w))
    fy, fx = grid((ny, nx))
    got = frequency_response(k, (ny, nx))  # grids smaller than the kernel too: exact, no truncation
    assert np.abs(got - dtft(k, fy, fx)).max() < 1e-9 * max(1.0, np.abs(k).sum())
    assert abs(got[0, 0] - k.sum()) < 1e-9 * max(1.0, np.abs(k).sum())


def test_convolution_theorem_on_a_photograph(photo_grey):
    img = photo_grey[:64, :80].astype(np.float64)
    k = np.random.default_rng(1).standard_normal((5, 4))
    out = imgconv.convolve(img, k, mode="wrap")
    expected = np.fft.fft2(img) * frequency_response(k, img.shape)
    assert np.abs(np.fft.fft2(out) - expected).max() < 1e-3


def test_default_grid_and_api():
    assert imgconv.frequency_response("gaussian:sigma=2").shape == (64, 64)
    assert imgconv.frequency_response(np.ones((1, 40))).shape == (256, 256)
    assert imgconv.frequency_response([1, 2, 1]).shape == (64, 64)  # 1-D: a row
    with pytest.raises(KernelError, match="one response per matrix"):
        frequency_response("sobel")
    with pytest.raises(KernelError):
        frequency_response([[1, np.nan]])
    with pytest.raises(KernelError, match="positive"):
        frequency_response([[1]], (0, 4))


def test_normalize_and_scale_are_part_of_the_response(tmp_path):
    path = tmp_path / "k.toml"
    path.write_text("normalize = true\nscale = 2.0\nmatrix = [[1, 2, 1]]\n")
    assert frequency_response(str(path), (1, 1))[0, 0] == pytest.approx(2.0)


# ---------------------------------------------------------------- the summary


def test_gaussian_sigma_2_cutoff_is_within_2_percent_of_the_continuous_one():
    s = summary("gaussian:sigma=2")
    expected = math.sqrt(math.log(2)) / (2 * math.pi * 2)  # 0.0663 cycles/pixel
    for axis in "xy":
        (cut,) = s["cutoff"][axis]
        assert abs(cut - expected) / expected < 0.02
        # and it is where |H| really is 1/sqrt 2
        f = np.array([cut]) if axis == "x" else np.array([0.0])
        g = np.array([0.0]) if axis == "x" else np.array([cut])
        k = load_kernel("gaussian:sigma=2").matrices[0]
        assert abs(abs(dtft(k, g, f)[0]) - 1 / math.sqrt(2)) < 1e-9


@pytest.mark.parametrize("sigma", [1, 3, 5])
def test_gaussian_cutoffs_follow_one_over_sigma(sigma):
    expected = math.sqrt(math.log(2)) / (2 * math.pi * sigma)
    assert summary(f"gaussian:sigma={sigma}")["cutoff"]["x"][0] == pytest.approx(expected, rel=0.02)


def test_box_cutoff_and_nyquist_are_exact():
    s = summary("box:size=3")
    # (1 + 2 cos 2 pi f) / 3 = 1 / sqrt 2
    expected = math.acos((3 / math.sqrt(2) - 1) / 2) / (2 * math.pi)
    assert s["cutoff"]["x"][0] == pytest.approx(expected, abs=1e-9)
    assert s["nyquist_gain"] == {"x": pytest.approx(-1 / 3), "y": pytest.approx(-1 / 3)}
    assert s["dc_gain"] == pytest.approx(1)


@pytest.mark.parametrize("spec, kind", [
    ("blur", "low-pass"), ("box:size=5", "low-pass"), ("gaussian:sigma=2", "low-pass"),
    ("disc:radius=4", "low-pass"), ("motion:length=15,angle=30", "low-pass"), ("motion:length=9", "low-pass"),
    ("sharpen", "high-pass"), ("unsharp:sigma=2,amount=1.5", "high-pass"), ("laplacian", "high-pass"),
    ("edge", "high-pass"), ("log", "band-pass"), ("sobel:direction=x", "band-pass"), ("identity", "all-pass"),
    ("0,0,1", "all-pass"), ("1,0,1", "band-stop"), ("0,0,0", "zero"),
])
def test_kinds(spec, kind):
    assert summary(spec)["kind"] == kind


def test_gains_rank_and_phase_of_presets():
    lap = summary("laplacian")
    assert lap["dc_gain"] == 0 and lap["nyquist_gain"] == {"x": -4.0, "y": -4.0}
    assert lap["separable_rank"] == 2 and lap["zero_phase"]
    ident = summary("identity")
    assert ident["nyquist_gain"] == {"x": 1.0, "y": 1.0} and ident["cutoff"] == {"x": [], "y": []}
    assert summary("gaussian:sigma=2")["separable_rank"] == 1
    assert summary("disc:radius=4")["separable_rank"] > 1
    sob = summary("sobel:direction=x")
    assert not sob["zero_phase"] and sob["phase"] == "±90°"
    assert sob["axis_kind"] == {"x": "band-pass", "y": "zero"}
    assert sob["cutoff"]["x"] == [pytest.approx(0.125), pytest.approx(0.375)]  # sin(2 pi f) = 1/sqrt 2
    assert summary("0,0,1")["phase"] == "linear" and summary("emboss")["phase"] == "non-linear"
    assert summary("1,1")["phase"] == "linear"  # even size: symmetric about a half pixel
    motion = summary("motion:length=9,angle=0")
    assert motion["axis_kind"] == {"x": "low-pass", "y": "all-pass"}


def test_multi_kernel_summary_lists_each_matrix_and_the_combine_rule():
    s = response_summary("sobel")
    assert s["combine"] == "magnitude" and len(s["matrices"]) == 2
    assert [m["axis_kind"]["y"] for m in s["matrices"]] == ["zero", "band-pass"]
    text = format_response(s)
    assert "matrix 1 of 2" in text and "matrix 2 of 2" in text and "combine: magnitude" in text


# ---------------------------------------------------------------- the command line


def test_cli_response_text(cli):
    code, out, err = cli("kernels", "gaussian:sigma=2", "--response")
    assert code == 0 and err == ""
    assert "DC gain (sum):      1" in out
    assert "-3 dB cutoff:       x 0.0665, y 0.0665 cycles/pixel" in out
    assert "kind:               low-pass" in out and "separable rank:     1" in out
    assert "zero phase:         yes" in out and "Nyquist gain:" in out


def test_cli_response_json(cli):
    code, out, err = cli("kernels", "sharpen", "--json")
    assert code == 0
    data = json.loads(out)
    (m,) = data["matrices"]
    assert data["kernel"] == "sharpen" and m["kind"] == "high-pass" and m["dc_gain"] == 1
    assert m["nyquist_gain"] == {"x": 5.0, "y": 5.0} and m["separable_rank"] == 2 and m["zero_phase"] is True
    assert m["matrix"] == [[0, -1, 0], [-1, 5, -1], [0, -1, 0]] and m["shape"] == [3, 3]
    code, out, _ = cli("kernels", "sobel", "--json", "--response")
    assert code == 0 and len(json.loads(out)["matrices"]) == 2


@pytest.mark.parametrize("args, message", [
    (("kernels", "--response"), "need a kernel SPEC"),
    (("kernels", "--plot", "x.png"), "need a kernel SPEC"),
    (("kernels", "blur", "--db"), "go with --plot"),
    (("kernels", "nope", "--response"), "unknown kernel"),
])
def test_cli_response_usage_errors(cli, args, message):
    code, out, err = cli(*args)
    assert code == 2 and out == ""
    assert err.startswith("imgconv: error: ") and message in err and err.count("\n") == 1


def test_cli_plot_writes_a_png_and_never_clobbers(cli, tmp_path):
    from PIL import Image

    pytest.importorskip("matplotlib")
    path = tmp_path / "sobel.png"
    code, out, err = cli("kernels", "sobel", "--plot", path)
    assert code == 0 and "matrix 1 of 2" in out and f"wrote {path}" in err
    with Image.open(path) as im:
        assert im.format == "PNG" and im.width > 1000 and im.height > 700  # two rows of panels
    before = path.read_bytes()
    code, _, err = cli("kernels", "blur", "--plot", path)
    assert code == 2 and "exists" in err and "--overwrite" in err and path.read_bytes() == before
    code, _, _ = cli("kernels", "gaussian:sigma=2", "--plot", path, "--overwrite", "--db", "--response")
    assert code == 0 and path.read_bytes() != before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sobel.png"]  # no temporary left behind
    code, _, err = cli("kernels", "blur", "--plot", tmp_path / "k.jpg")
    assert code == 2 and "PNG" in err
    code, _, err = cli("kernels", "blur", "--plot", tmp_path / "missing" / "k.png")
    assert code == 2 and "does not exist" in err


def test_plot_without_matplotlib_is_one_clear_line(tmp_path):
    blocker = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'matplotlib' or name.startswith('matplotlib.'):\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from imgconv.cli import run\n"
        f"run(['kernels', 'sobel', '--plot', {str(tmp_path / 'k.png')!r}])\n"
    )
    proc = subprocess.run([sys.executable, "-c", blocker], capture_output=True, text=True, env=ENV, cwd=tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == "imgconv: error: --plot needs matplotlib: pip install 'imgconv[plot]'\n"
    assert not (tmp_path / "k.png").exists()


def test_listing_and_showing_kernels_stay_light():
    code = ("import sys; from imgconv.cli import run\n"
            "try:\n    run(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('numpy', 'scipy', 'matplotlib') if m in sys.modules))")
    listing = subprocess.run([sys.executable, "-c", code, "kernels"], capture_output=True, text=True, env=ENV)
    assert listing.stdout.strip().splitlines()[-1] == "[]"
    show = subprocess.run([sys.executable, "-c", code, "kernels", "sobel"], capture_output=True, text=True, env=ENV)
    assert "matplotlib" not in show.stdout.strip().splitlines()[-1]
