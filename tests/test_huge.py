"""One huge image split into chunks across a real Dask cluster equals the single-machine run, bit for bit."""
import re

import numpy as np
import pytest
from PIL import Image

from imgconv.batch import huge
from imgconv.batch.huge_io import open_source
from imgconv.filtering import resolve_kernels
from imgconv.tasks import FilterOptions, FilterTask

pytest.importorskip("distributed")
zarr = pytest.importorskip("zarr")
tifffile = pytest.importorskip("tifffile")

SAMPLES = __import__("pathlib").Path(__file__).resolve().parent.parent / "samples"
MODES = ["reflect", "mirror", "nearest", "wrap", "constant"]
#: rank 1, sparse, dense and multi-kernel; odd and even sizes
CHAIN = ["gaussian:sigma=1.5", "motion:length=9,angle=30", "dense.txt", "sobel", "1,2; 3,4"]


@pytest.fixture(scope="module")
def cluster():
    import distributed

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, worker_dashboard_address=None) as lc:
        yield lc.scheduler_address


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """Real photographs as the huge inputs' stand-ins: an 8-bit RGB TIFF (coffee, mirror-tiled
    to 520 x 770 and 1000 x 1300), a 16-bit RGBA TIFF and a float grey .npy; dense 7 x 7 and 31 x 31 kernels."""
    folder = tmp_path_factory.mktemp("huge")
    coffee = np.asarray(Image.open(SAMPLES / "coffee.png").convert("RGB"))
    rgb = np.pad(coffee, ((0, 120), (0, 170), (0, 0)), mode="symmetric")
    tifffile.imwrite(folder / "rgb.tif", rgb, photometric="rgb")
    # larger than the FFT's tiles, so that FFT chunks meet on tile corners
    tifffile.imwrite(folder / "rgb-large.tif", np.pad(coffee, ((0, 600), (0, 700), (0, 0)), mode="symmetric"),
                     photometric="rgb")
    astronaut = np.asarray(Image.open(SAMPLES / "astronaut16.png"))  # 16-bit
    deep = np.pad(astronaut, ((0, 200), (0, 150), (0, 0)), mode="symmetric").astype(np.uint16)
    alpha = np.linspace(0, 65535, deep.shape[1]).astype(np.uint16)[None, :].repeat(deep.shape[0], 0)
    tifffile.imwrite(folder / "rgba16.tif", np.dstack([deep[..., :3], alpha]), photometric="rgb",
                     extrasamples=("unassalpha",))
    camera = np.asarray(Image.open(SAMPLES / "camera.png").convert("L"), np.float32) / 255
    np.save(folder / "grey.npy", np.pad(camera, ((0, 100), (0, 200)), mode="reflect"))
    for side in (7, 31):
        kernel = np.random.default_rng(side).random((side, side))
        np.savetxt(folder / f"dense{side}.txt", kernel / kernel.sum())
    return folder


def read_samples(path):
    path = str(path)
    if path.endswith(".npy"):
        return np.load(path)
    return zarr.open_array(path, mode="r")[:] if path.endswith(".zarr") else tifffile.imread(path)


def chain(photos, side=7):
    return [str(photos / f"dense{side}.txt") if spec == "dense.txt" else spec for spec in CHAIN]


def single_machine(cli, src, dst, specs, *args):
    code, _, err = cli("filter", src, *sum((["-k", s] for s in specs), []), "-o", dst, *args)
    assert code == 0, err
    return read_samples(dst)


def on_cluster(src, dst, specs, cluster, side=128, **options):
    """``filter_huge`` planned under the settings the command line enters (its load cost)."""
    from imgconv.loopcache import loop_cost_ms
    from imgconv.settings import use

    task = FilterTask(kernels=tuple(resolve_kernels(specs)), options=FilterOptions(**options))
    with use(load_ms=loop_cost_ms()):
        chunks = huge.filter_huge(open_source(src), task, dst, cluster, side=side)
    assert chunks > 1
    return read_samples(dst)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("method", ["direct", "separable", "fft"])
def test_every_mode_and_method_is_bit_identical_to_one_machine(cli, photos, tmp_path, cluster, mode, method):
    src = photos / ("rgb-large.tif" if method == "fft" else "rgb.tif")
    specs = chain(photos, 31 if method == "fft" else 7)
    want = single_machine(cli, src, tmp_path / "one.tif", specs, "--mode", mode, "--cval", "0.25", "--method", method)
    got = on_cluster(src, tmp_path / "many.zarr", specs, cluster, mode=mode, cval=0.25, method=method)
    assert got.dtype == want.dtype == np.uint8 and got.shape == want.shape
    assert np.array_equal(got, want)


def test_float_samples_and_tiff_output(cli, photos, tmp_path, cluster):
    src = photos / "grey.npy"  # float samples: float output, every bit compared
    specs = ["gaussian:sigma=2", "0,1,0; 1,-4,1; 0,1,0"]
    want = single_machine(cli, src, tmp_path / "one.npy", specs, "--mode", "mirror", "--method", "direct")
    got = on_cluster(src, tmp_path / "many.tif", specs, cluster, mode="mirror", method="direct")
    assert got.dtype == want.dtype == np.float32 and np.array_equal(got, want)


@pytest.mark.parametrize("method", ["direct", "separable"])
def test_scipy_fallback_16bit_alpha_and_luma(cli, photos, tmp_path, cluster, method):
    from imgconv.settings import use

    src, specs = photos / "rgba16.tif", ["sharpen", "box:size=5", "0,1; 2,3; 4,5"]
    with use(compiled=False):  # planned without the compiled loops: every chunk runs SciPy too
        want = single_machine(cli, src, tmp_path / "one.tif", specs, "--channels", "luma", "--correlate",
                              "--scale", "0.9", "--offset", "0.02", "--method", method, "--mode", "wrap")
        got = on_cluster(src, tmp_path / "many.tif", specs, cluster, channels="luma", correlate=True, scale=0.9,
                         offset=0.02, method=method, mode="wrap")
    assert got.dtype == want.dtype == np.uint16 and got.shape == want.shape and got.shape[2] == 4
    assert np.array_equal(got, want)


def test_cli_splits_one_huge_input_and_keeps_its_rules(cli, photos, tmp_path, cluster, monkeypatch):
    monkeypatch.setattr(huge, "HUGE_PIXELS", 4 * 10**5)  # read here, where the run is planned
    monkeypatch.setattr(huge, "CHUNK_SIDE", 256)
    src = photos / "rgb.tif"
    want = single_machine(cli, src, tmp_path / "one.tif", ["unsharp:sigma=2"])
    code, _, err = cli("filter", src, "-k", "unsharp:sigma=2", "-o", tmp_path / "many.zarr", "--scheduler", cluster)
    assert code == 0, err
    assert re.fullmatch(r"imgconv: note: .*rgb.tif: 770x520 filtered in \d+ chunks on the cluster\n", err)
    assert np.array_equal(read_samples(tmp_path / "many.zarr"), want)
    before = read_samples(tmp_path / "many.zarr")
    code, _, err = cli("filter", src, "-k", "blur", "-o", tmp_path / "many.zarr", "--scheduler", cluster)
    assert code == 2 and "exists" in err and len(err.strip().splitlines()) == 1  # no-clobber, nothing computed
    assert np.array_equal(read_samples(tmp_path / "many.zarr"), before)
    code, _, err = cli("filter", src, "-k", "blur", "-o", tmp_path / "many.zarr", "--scheduler", cluster,
                       "--skip-existing")
    assert code == 0 and "skipped" in err
    code, _, err = cli("filter", src, "-k", "blur", "-o", tmp_path / "many.png", "--scheduler", cluster)
    assert code == 2 and ".zarr or .tif" in err and len(err.strip().splitlines()) == 1
    assert not list(tmp_path.glob(".many*"))  # no temporaries left


def test_small_or_several_inputs_stay_ordinary_runs(photos):
    assert huge.huge_source([str(photos / "rgb.tif")]) is None  # below HUGE_PIXELS
    assert huge.huge_source([str(photos / "rgb.tif"), str(photos / "grey.npy")]) is None
    assert huge.huge_source(["-"]) is None


def test_zarr_input(cli, photos, tmp_path, cluster):
    rgb = tifffile.imread(photos / "rgb.tif")
    stored = zarr.create_array(str(tmp_path / "in.zarr"), shape=rgb.shape, chunks=(300, 500, 3), dtype=rgb.dtype)
    stored[:] = rgb
    assert huge.huge_source([str(tmp_path / "in.zarr")]).kind == "zarr"  # a zarr input is always split
    want = single_machine(cli, photos / "rgb.tif", tmp_path / "one.tif", ["emboss"], "--method", "direct")
    got = on_cluster(tmp_path / "in.zarr", tmp_path / "out.zarr", ["emboss"], cluster, method="direct")
    assert np.array_equal(got, want)


def test_alpha_linear_light_and_abs_on_chunks(cli, photos, tmp_path, cluster):
    """The picture's own steps run chunk by chunk: 16-bit RGBA premultiplied (a chain without
    negative taps), decoded to linear light and back; a signed result's absolute value, scaled."""
    src = photos / "rgba16.tif"
    specs = ["box:size=5", "gaussian:sigma=1.5"]
    want = single_machine(cli, src, tmp_path / "one.tif", specs, "--linear", "--mode", "nearest", "--method", "direct")
    got = on_cluster(src, tmp_path / "many.tif", specs, cluster, linear=True, mode="nearest", method="direct")
    assert got.dtype == want.dtype == np.uint16 and got.shape == want.shape and got.shape[2] == 4
    assert np.array_equal(got, want)
    specs = ["sobel:direction=x"]
    want = single_machine(cli, src, tmp_path / "one-abs.tif", specs, "--abs", "--scale", "2", "--alpha", "keep",
                          "--method", "separable")
    got = on_cluster(src, tmp_path / "many-abs.zarr", specs, cluster, absolute=True, scale=2.0, alpha="keep",
                     method="separable")
    assert np.array_equal(got, want)


@pytest.mark.parametrize("method", ["separable", "fft"])
def test_missing_pixels_propagate_as_on_one_machine(cli, photos, tmp_path, cluster, method):
    holes = np.pad(np.load(photos / "grey.npy"), ((0, 600), (0, 600)), mode="symmetric")  # FFT tiles < image
    holes[100:104, 200:260] = np.nan  # inside one chunk and across chunk borders
    holes[250:400:37, 127:130] = np.nan
    np.save(tmp_path / "holes.npy", holes)
    specs = ["gaussian:sigma=2", str(photos / "dense31.txt") if method == "fft" else "sharpen"]
    want = single_machine(cli, tmp_path / "holes.npy", tmp_path / "one.npy", specs, "--method", method)
    got = on_cluster(tmp_path / "holes.npy", tmp_path / "many.tif", specs, cluster, method=method)
    assert np.isnan(want).any() and not np.isnan(want).all()
    assert np.array_equal(got, want, equal_nan=True)


def test_whole_image_options_stay_ordinary_runs(photos, tmp_path):
    task = FilterTask(kernels=("blur",))
    src = [str(photos / "rgb-large.tif")]
    assert huge.splits(task)
    for options in (FilterOptions(nan="ignore"), FilterOptions(valid=str(photos / "rgb.tif"))):
        assert not huge.splits(FilterTask(kernels=("blur",), options=options))
        assert huge.huge_source(src, FilterTask(kernels=("blur",), options=options)) is None
    assert not huge.splits(FilterTask(kernels=("gaussian:sigma=1,1,2",)))  # a 3-D kernel: a volume
