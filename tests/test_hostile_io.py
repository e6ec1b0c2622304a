"""Hostile files, folders, formats, batches and memory (issue 11, part 1): each case ends in its own
clear line and the contracted exit code, or is handled right, and the mechanism behind it is tested.

Rows of ``docs/robustness.md`` ("Files, formats, batches and memory") name these tests as
``hostile_io::<test>``.  The contract helpers (one ``imgconv: error:`` line, a folder left
byte-for-byte as it was, ``python -m imgconv`` measured in a subprocess) are those of
``test_hostile.py``, shared through ``hostile_helpers.py``.
"""
import io
import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tifffile
from batch_tasks import RaisesOn
from hostile_helpers import assert_refused, save_png, sh, snapshot
from PIL import Image
from scipy import ndimage

from imgconv import imageio
from imgconv.batch import Job, output_path, run_jobs
from imgconv.batch.walk import matches, pattern_parts, walk_files
from imgconv.batch.workers import WORKERS_PER_CORE, worker_count
from imgconv.errors import ImageReadError, ImageWriteError, ImgconvError, KernelError
from imgconv.imageio import read_image, write_image
from imgconv.imageio.atomic import temporary_prefix
from imgconv.kernels import Kernel
from imgconv.settings import usable_cores

RNG = np.random.default_rng(11)
LOOP_ERROR = "Too many levels of symbolic links"


@pytest.fixture
def work(tmp_path, photo_rgb):
    """A folder with one real 40 x 50 photograph crop, ``a.png``."""
    folder = tmp_path / "work"
    folder.mkdir()
    save_png(folder / "a.png", np.rint(photo_rgb[:40, :50] * 255).astype(np.uint8))
    return folder


def pixels(path):
    with Image.open(path) as im:
        return np.asarray(im)


def notes(err):
    return [line for line in err.splitlines() if line.startswith("imgconv: note: ")]


# --------------------------------------------------------------------------- A. the safety nets


def test_unexpected_exception_in_one_image_is_that_images_failure(cli, work, tmp_path, monkeypatch):
    """A bug that shows on one image (here a RuntimeError) fails that image only: with -j 1 the
    later files are still processed, one line names the file, exit 3."""
    import imgconv.filtering

    for name in ("b.png", "c.png"):
        (work / name).write_bytes((work / "a.png").read_bytes())
    real = imgconv.filtering.filter_image

    def buggy(picture, *args, **kwargs):
        if picture.path.endswith("a.png"):
            raise RuntimeError("a bug nobody anticipated")
        return real(picture, *args, **kwargs)

    monkeypatch.setattr(imgconv.filtering, "filter_image", buggy)
    code, _, err = cli("filter", work, "-k", "blur", "-o", tmp_path / "out", "-j", 1, "-q")
    assert code == 3 and "Traceback" not in err
    assert err.strip().splitlines() == [f"imgconv: error: {work / 'a.png'}: internal error: RuntimeError: "
                                        "a bug nobody anticipated (please report this)"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["b.png", "c.png"]


def test_unexpected_exception_in_a_worker_is_that_images_failure(tmp_path):
    jobs = [Job(tmp_path / f"{name}.png", tmp_path / f"{name}.out") for name in ("a", "b", "c", "d")]
    summary = run_jobs(jobs, RaisesOn("b.png"), workers=2)
    assert summary.done == 3 and [src for src, _ in summary.failed] == [str(tmp_path / "b.png")]
    assert "internal error: RuntimeError: unexpected b.png (please report this)" in summary.failed[0][1]


def test_bug_outside_an_image_is_one_internal_error_line_exit_70(cli, work, monkeypatch):
    import imgconv.batch

    def broken(*args, **kwargs):
        raise ZeroDivisionError("float division by zero")

    monkeypatch.setattr(imgconv.batch, "plan_jobs", broken)
    monkeypatch.delenv("IMGCONV_DEBUG", raising=False)
    code, out, err = cli("filter", work / "a.png", "-k", "blur")
    assert code == 70 and out == "" and "Traceback" not in err
    assert err.strip().splitlines() == ["imgconv: internal error: ZeroDivisionError: float division by zero "
                                        "(please report this; IMGCONV_DEBUG=1 shows the traceback)"]
    monkeypatch.setenv("IMGCONV_DEBUG", "1")  # the traceback, on request
    from imgconv.cli import run

    with pytest.raises(ZeroDivisionError):
        run(["filter", str(work / "a.png"), "-k", "blur"])


# --------------------------------------------------------------------------- 1. format size limits


@pytest.mark.parametrize("extension, width, limit", [(".gif", 65536, 65535), (".jpg", 65501, 65500),
                                                     (".webp", 16384, 16383)])
def test_image_larger_than_its_output_format_holds_is_refused_before_encoding(work, extension, width, limit):
    """GIF raised OverflowError, libjpeg printed its own line, WebP an encoder error: now one line
    naming the limit, from a real process (so libjpeg's own stderr would show)."""
    save_png(work / "wide.png", RNG.integers(0, 256, (1, width), dtype=np.uint8))
    before = snapshot(work)
    result = sh("filter", work / "wide.png", "-k", "identity", "-o", work / f"wide{extension}")
    assert_refused(result.code, result.err, f"wide{extension}", before=before, folder=work)
    assert f"cannot store an image of {width} x 1 pixels (at most {limit} x {limit}" in result.err


def test_image_at_the_format_limit_is_written(cli, work):
    wide = RNG.integers(0, 256, (2, 65535), dtype=np.uint8)
    save_png(work / "wide.png", wide)
    code, _, err = cli("filter", work / "wide.png", "-k", "identity", "-o", work / "wide.gif")
    assert code == 0, err
    assert np.array_equal(pixels(work / "wide.gif"), wide)


def test_library_write_refuses_oversized_images_without_leaving_files(tmp_path):
    with pytest.raises(ImageWriteError, match="WEBP cannot store an image of 16384 x 2"):
        write_image(tmp_path / "x.webp", np.zeros((2, 16384), np.float32))
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- 2. metadata a format cannot store


def _tiff_with_dpi(path, samples, dpi):
    tifffile.imwrite(path, samples, photometric="rgb" if samples.ndim == 3 else "minisblack",
                     resolution=(dpi, dpi), resolutionunit="inch")


@pytest.mark.parametrize("depth, extension, fmt, most", [(8, ".png", "PNG", 54546085), (8, ".bmp", "BMP", 54546055),
                                                         (8, ".jpg", "JPEG", 65535), (16, ".png", "PNG", 54546085)])
def test_resolution_a_format_cannot_store_is_dropped_with_a_note(cli, work, photo_rgb, depth, extension, fmt, most):
    """4294967295 dpi (a valid TIFF value) overflowed PNG's pHYs, BMP's header and the 16-bit PNG
    writer (struct.error); JPEG would wrap it.  Now the pixels are written, the resolution dropped, a note."""
    scale = 255 if depth == 8 else 65535
    samples = np.rint(photo_rgb[:30, :40] * scale).astype(np.uint8 if depth == 8 else np.uint16)
    _tiff_with_dpi(work / "d.tif", samples, 4294967295)
    out = work / f"d{extension}"
    code, _, err = cli("filter", work / "d.tif", "-k", "identity", "-o", out, "--quality", 100)
    assert code == 0 and "Traceback" not in err, err
    assert notes(err) == [f"imgconv: note: {work / 'd.tif'}: a resolution of 4294967295 x 4294967295 dpi "
                          f"cannot be stored in {fmt} (at most {most} dpi); written without it"]
    with Image.open(out) as im:  # none, or the format's default (BMP always has one: 96)
        assert im.info.get("dpi") in (None, (0, 0)) or max(im.info["dpi"]) < 100
    if extension != ".jpg":
        assert np.array_equal(read_image(out).pixels, read_image(work / "d.tif").pixels)


def test_storable_resolution_is_still_kept(cli, work):
    _tiff_with_dpi(work / "d.tif", RNG.integers(0, 256, (8, 8, 3), dtype=np.uint8), 300)
    for extension in (".png", ".jpg", ".bmp", ".tif"):
        code, _, err = cli("filter", work / "d.tif", "-k", "identity", "-o", work / f"out{extension}")
        assert code == 0 and err == "", err
        assert read_image(work / f"out{extension}").dpi == pytest.approx((300, 300), abs=0.01)


def test_jpeg_resolution_beyond_16_bits_is_not_wrapped_to_another_value(tmp_path):
    picture = imageio.Picture(np.zeros((4, 4, 3), np.float32), dpi=(65536.0, 72.0), format="PNG")
    dropped = []
    write_image(tmp_path / "x.jpg", picture, notes=dropped)
    assert dropped and "cannot be stored in JPEG (at most 65535 dpi)" in dropped[0]
    assert read_image(tmp_path / "x.jpg").dpi in (None, (0.0, 0.0))
    picture.dpi, dropped = None, []
    picture.icc_profile = bytes(16) + b"RGB " + bytes(255 * 65519)  # one byte more than JPEG's APP2 segments hold
    write_image(tmp_path / "y.jpg", picture, notes=dropped)
    assert dropped == ["an ICC profile of 16707365 bytes cannot be stored in JPEG (at most 16707345); "
                       "written without it"]
    assert read_image(tmp_path / "y.jpg").icc_profile is None


# --------------------------------------------------------------------------- 3. symbolic-link loops


@pytest.fixture
def loop(work):
    """``loop.png`` -> ``other.png`` -> ``loop.png`` in the work folder."""
    os.symlink("other.png", work / "loop.png")
    os.symlink("loop.png", work / "other.png")
    return work / "loop.png"


def _links(folder):
    return {p.name: os.readlink(p) for p in folder.iterdir() if p.is_symlink()}


def test_symlink_loop_as_input(cli, work, loop):
    links = _links(work)
    code, _, err = cli("filter", loop, "-k", "blur", "-o", work / "out.png")
    assert_refused(code, err, "loop.png")
    assert f"cannot open: {LOOP_ERROR}" in err
    code, _, err = cli("match", loop, work / "a.png")
    assert_refused(code, err, "loop.png")
    assert _links(work) == links and not (work / "out.png").exists()


@pytest.mark.parametrize("extra", [[], ["--overwrite"]], ids=["plain", "overwrite"])
def test_symlink_loop_as_output_is_refused_and_left_alone(cli, work, loop, extra):
    links, before = _links(work), snapshot(work)
    code, _, err = cli("filter", work / "a.png", "-k", "blur", "-o", loop, *extra)
    assert_refused(code, err, "loop.png")
    assert f"cannot write: {LOOP_ERROR}" in err
    assert _links(work) == links and snapshot(work) == before


def test_symlink_loop_as_match_output(cli, work, loop):
    save_png(work / "scene.png", RNG.integers(0, 256, (40, 60), dtype=np.uint8))
    links = _links(work)
    for option in ("--heatmap", "--annotate"):
        code, _, err = cli("match", work / "scene.png", work / "scene.png", option, loop)
        assert_refused(code, err, "loop.png")
        assert LOOP_ERROR in err
    assert _links(work) == links


def test_symlink_loops_and_cycles_inside_folders_are_passed_over(cli, work, loop, tmp_path):
    (work / "sub").mkdir()
    (work / "sub" / "b.png").write_bytes((work / "a.png").read_bytes())
    os.symlink("..", work / "sub" / "up")  # a folder cycle: -r must not follow it
    code, _, err = cli("filter", work, "-r", "-k", "blur", "-o", tmp_path / "out", "-q", "-j", 1)
    assert code == 0, err
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.png")) == \
        ["a.png", "sub/b.png"]


# --------------------------------------------------------------------------- 4. names over 255 bytes


def test_missing_input_with_a_300_character_name(cli, work):
    before = snapshot(work)
    code, _, err = cli("filter", work / ("x" * 300 + ".png"), "-k", "blur")
    assert_refused(code, err, "x" * 300, before=before, folder=work)
    assert "file name too long (304 bytes; the file system allows 255)" in err


def test_output_name_over_255_bytes(cli, work):
    before = snapshot(work)
    code, _, err = cli("filter", work / "a.png", "-k", "blur", "-o", work / ("o" * 300 + ".png"))
    assert_refused(code, err, "o" * 300, before=before, folder=work)
    assert "cannot write: file name too long (304 bytes" in err


def test_default_output_name_that_grows_past_255_bytes(cli, work):
    stem = "y" * 250
    (work / f"{stem}.png").write_bytes((work / "a.png").read_bytes())
    before = snapshot(work)
    code, _, err = cli("filter", work / f"{stem}.png", "-k", "blur")
    assert_refused(code, err, f"{stem}.blur.png", before=before, folder=work)
    assert "file name too long (259 bytes; the file system allows 255); name the output with -o" in err


def test_long_valid_output_name_gets_a_temporary_name_that_fits(cli, work):
    stem = "z" * 240  # z...z.x.png is 246 bytes: valid; its temporary ".z...z.x.png.XXXXXXXX.tmp" was not
    out = work / f"{stem}.x.png"
    code, _, err = cli("filter", work / "a.png", "-k", "blur", "-o", out)
    assert code == 0, err
    assert out.exists() and sorted(p.name for p in work.iterdir()) == ["a.png", out.name]
    assert len(temporary_prefix(out)) + len("abcdefgh.tmp") <= 255
    assert temporary_prefix(work / "a.png") == ".a.png."  # short names as before


# --------------------------------------------------------------------------- 5. deep folders


def _remove_chain(top):
    """Remove a chain of folders ``top/d/d/...`` of any depth (shutil.rmtree recurses per level too)."""
    chain = [Path(top)]
    while (chain[-1] / "d").is_dir():
        chain.append(chain[-1] / "d")
    for folder in reversed(chain):
        for entry in folder.iterdir():
            if not entry.is_dir():
                entry.unlink()
        folder.rmdir()


def test_folder_1000_levels_deep(cli, work, tmp_path):
    """pathlib's rglob and Path.mkdir(parents=True) recurse once per level (RecursionError near 1000)."""
    deep, out = work / "deep", tmp_path / "out"
    os.mkdir(deep)
    cwd = os.getcwd()
    try:
        os.chdir(deep)
        for _ in range(1000):
            os.mkdir("d")
            os.chdir("d")
        Path("a.png").write_bytes((work / "a.png").read_bytes())
        os.chdir(cwd)
        code, _, err = cli("filter", deep, "-r", "-k", "blur", "-o", out, "-q")
        assert code == 0 and err == "", err
        assert out.joinpath(*["d"] * 1000, "a.png").is_file()
    finally:
        os.chdir(cwd)
        for top in (deep, out):
            if top.exists():
                _remove_chain(top)


# --------------------------------------------------------------------------- 11. no clobbering


def test_output_that_appears_after_planning_is_never_replaced(cli, work, tmp_path, monkeypatch):
    """Another run writes ``b.png`` while this one is encoding it: without --overwrite that image
    fails with "exists" and the other run's file is left as it was; the rest are written."""
    (work / "b.png").write_bytes((work / "a.png").read_bytes())
    out = tmp_path / "out"
    real_encode = imageio.writing._encode

    def racing(fp, *args):
        label = args[-1]
        if label.endswith("b.png"):
            Path(label).write_bytes(b"the other run's output")
        return real_encode(fp, *args)

    monkeypatch.setattr(imageio.writing, "_encode", racing)
    code, _, err = cli("filter", work, "-k", "blur", "-o", out, "-j", 1, "-q")
    assert code == 3, err
    assert err.strip().splitlines() == [f"imgconv: error: {out / 'b.png'}: output exists (written by another process "
                                        "after this run checked?); use --overwrite to replace it"]
    assert (out / "b.png").read_bytes() == b"the other run's output"
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png"]
    code, _, err = cli("filter", work, "-k", "blur", "-o", out, "-j", 1, "-q", "--overwrite")  # last writer wins
    assert code == 0 and (out / "b.png").read_bytes() != b"the other run's output"
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png"]


def test_write_image_without_overwrite(tmp_path):
    path = tmp_path / "x.png"
    path.write_bytes(b"precious")
    with pytest.raises(ImageWriteError, match="output exists"):
        write_image(path, np.zeros((2, 2), np.float32), overwrite=False)
    assert path.read_bytes() == b"precious" and sorted(p.name for p in tmp_path.iterdir()) == ["x.png"]
    os.symlink("nowhere.png", tmp_path / "dangling.png")  # a name that exists, pointing nowhere
    with pytest.raises(ImageWriteError, match="output exists"):
        write_image(tmp_path / "dangling.png", np.zeros((2, 2), np.float32), overwrite=False)
    write_image(tmp_path / "new.png", np.zeros((2, 2), np.float32), overwrite=False)
    assert read_image(tmp_path / "new.png").pixels.shape == (2, 2)


def test_two_runs_into_one_folder_never_replace_each_others_outputs(cli, tmp_path, photo_rgb):
    """Two real runs at once, different kernels, same output names, neither with --overwrite:
    every output is written by exactly one of them, and holds that run's result."""
    src = tmp_path / "in"
    src.mkdir()
    for i in range(16):
        save_png(src / f"{i:02d}.png", np.rint(np.roll(photo_rgb[:60, :80], i, axis=1) * 255).astype(np.uint8))
    out = tmp_path / "out"
    runs = {kernel: subprocess.Popen([sys.executable, "-m", "imgconv", "filter", str(src), "-k", kernel, "-o",
                                      str(out), "-j", "1", "-q"], stderr=subprocess.PIPE, text=True)
            for kernel in ("box:size=3", "sharpen")}
    errors = {kernel: proc.communicate(timeout=120)[1] for kernel, proc in runs.items()}
    assert all("Traceback" not in err for err in errors.values()), errors
    written = {}
    for kernel, err in errors.items():
        refused_whole_run = "output exists (use --overwrite or --skip-existing)" in err
        failed = {Path(line.split(": ")[2]).name for line in err.splitlines() if "output exists (written by" in line}
        for name in sorted(p.name for p in src.iterdir()):
            if not refused_whole_run and name not in failed:
                assert name not in written, f"{name} was written by both runs"
                written[name] = kernel
    assert sorted(written) == sorted(p.name for p in out.iterdir()) == sorted(p.name for p in src.iterdir())
    for name, kernel in written.items():
        reference = tmp_path / f"ref-{kernel[:3]}-{name}"
        assert cli("filter", src / name, "-k", kernel, "-o", reference)[0] == 0
        assert np.array_equal(pixels(out / name), pixels(reference)), (name, kernel)


# --------------------------------------------------------------------------- 12. orphaned workers


def _descendants(pid):
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                children += [int(entry.name), *_descendants(int(entry.name))]
    return children


def _running(pid):
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process tree from /proc")
def test_workers_exit_when_their_parent_is_killed(tmp_path, photo_rgb):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    for i in range(30):
        save_png(src / f"{i:02d}.png", np.rint(photo_rgb[:200, :300] * 255).astype(np.uint8))
    parent = subprocess.Popen([sys.executable, "-m", "imgconv", "filter", str(src), "-k", "gaussian:sigma=8",
                               "--method", "direct", "-o", str(out), "-j", "2", "-q"], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not (out.exists() and len(list(out.glob("*.png"))) >= 2):
            assert parent.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        children = _descendants(parent.pid)  # forkserver, workers, resource tracker
        assert len(children) >= 3
    finally:
        parent.kill()
        parent.wait()
    killed = time.monotonic()
    written = len(list(out.glob("*.png")))
    while any(map(_running, children)) and time.monotonic() - killed < 10:
        time.sleep(0.05)
    survivors = [pid for pid in children if _running(pid)]
    for pid in survivors:
        os.kill(pid, signal.SIGKILL)
    assert survivors == [], "processes outlived their parent by 10 s"
    assert time.monotonic() - killed < 5
    assert len(list(out.glob("*.png"))) <= written + 2  # at most the writes already under way
    assert not list(out.glob(".*.tmp"))


def test_idle_worker_exits_on_sigterm():
    code = ("import os, signal, time\n"
            "from imgconv.batch import run\n"
            "signal.signal(signal.SIGTERM, run._interrupt_job)\n"
            "os.kill(os.getpid(), signal.SIGTERM)\n"
            "time.sleep(30)\n"
            "print('still here')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=20)
    assert done.returncode == 0 and "still here" not in done.stdout


# --------------------------------------------------------------------------- 13. patterns stay inside


def test_glob_cannot_reach_outside_its_folder(cli, tmp_path, photo_rgb):
    inside, other = tmp_path / "in", tmp_path / "other"
    inside.mkdir()
    other.mkdir()
    save_png(inside / "a.png", np.rint(photo_rgb[:20, :20] * 255).astype(np.uint8))
    save_png(other / "secret.png", np.rint(photo_rgb[:20, :20] * 255).astype(np.uint8))
    before = snapshot(tmp_path)
    for pattern, words in [("../other/*.png", "must stay inside the folder"), (str(other / "*.png"), "not absolute"),
                           ("sub/../../other/*.png", "must stay inside the folder")]:
        code, _, err = cli("filter", inside, "--glob", pattern, "-k", "blur", "-o", tmp_path / "o")
        assert_refused(code, err, "--glob", before=before, folder=tmp_path)
        assert words in err
    assert not (tmp_path / "o").exists()


def test_an_output_never_lands_outside_the_output_folder(tmp_path):
    with pytest.raises(ImgconvError, match="outside the output folder"):
        output_path(Path("in/../other/secret.png"), Path("in"), output=tmp_path / "o", suffix="x", fmt=None,
                    many=True)


def test_glob_patterns_match_as_pathlib_does(tmp_path):
    """The walk's matcher against pathlib's own glob and rglob, on a small tree (pathlib is the reference)."""
    for rel in ["a.png", "b.tif", "s/c.png", "s/t/d.PNG", "s/t/e.png", "u/f.jpg", "u/s/g.png"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    for pattern in ["*", "*.png", "*.[pt]*", "s/*.png", "*/*.png", "**/*.png", "s/**/*.png", "[ab]*", "?/*"]:
        for recursive in (False, True):
            walker = tmp_path.rglob(pattern) if recursive else tmp_path.glob(pattern)
            want = sorted(p.relative_to(tmp_path).parts for p in walker if p.is_file())
            assert walk_files(tmp_path, pattern_parts(pattern, recursive=recursive)) == want, (pattern, recursive)
    assert matches(("x.png",), ("**", "*.png")) and not matches(("s", "x.png"), ("*.png",))


# --------------------------------------------------------------------------- 14. options checked first


@pytest.mark.parametrize("args, words", [
    (["--format", "xyz"], "unsupported output format 'xyz'"),
    (["--format", "gif", "--depth", "16"], "GIF cannot store depth 16"),
    (["--format", "jpg", "--depth", "float"], "JPEG cannot store depth float"),
])
def test_impossible_output_options_on_a_folder_fail_before_any_work(cli, work, tmp_path, args, words):
    before = snapshot(work)
    code, _, err = cli("filter", work, "-k", "blur", "-o", tmp_path / "out", *args)
    assert_refused(code, err, words, before=before, folder=work)
    assert not (tmp_path / "out").exists()  # nothing created


def test_impossible_output_options_for_one_file_or_stdout(cli, work):
    before = snapshot(work)
    for args, words in [(["-o", work / "x.bmp", "--depth", "16"], "BMP cannot store depth 16"),
                        (["-o", "-", "--format", "xyz"], "unsupported output format 'xyz'")]:
        code, out, err = cli("filter", work / "a.png", "-k", "blur", *args)
        assert_refused(code, err, words, before=before, folder=work)
        assert out == ""


# --------------------------------------------------------------------------- 18. samples read right


def lzw_encode(data):
    """TIFF LZW as libtiff writes it (MSB-first codes of 9..12 bits), for files only libtiff decodes here."""
    out, acc, nbits, width = bytearray(), 0, 0, 9

    def emit(code):
        nonlocal acc, nbits
        acc, nbits = (acc << width) | code, nbits + width
        while nbits >= 8:
            nbits -= 8
            out.append((acc >> nbits) & 0xFF)
        acc &= (1 << nbits) - 1

    table, next_code, word = {bytes([i]): i for i in range(256)}, 258, b""
    emit(256)
    for byte in data:
        if word + bytes([byte]) in table:
            word += bytes([byte])
            continue
        emit(table[word])
        if next_code == 4094:
            emit(256)
            table, next_code, width = {bytes([i]): i for i in range(256)}, 258, 9
        else:
            table[word + bytes([byte])] = next_code
            next_code += 1
            width += next_code > (1 << width) - 1
        word = bytes([byte])
    emit(table[word])
    emit(257)
    return bytes(out + (bytearray([(acc << (8 - nbits)) & 0xFF]) if nbits else b""))


def lzw_tiff(array, **options):
    """A one-strip-per-plane TIFF of ``array`` (tifffile's layout), its strips LZW-compressed."""
    buffer = io.BytesIO()
    planar = options.get("planarconfig") == "separate"
    tifffile.imwrite(buffer, array, rowsperstrip=array.shape[-2] if planar else array.shape[0], **options)
    data = bytearray(buffer.getvalue())
    with tifffile.TiffFile(io.BytesIO(bytes(data))) as tif:
        page = tif.pages[0]
        strips = [lzw_encode(bytes(data[o:o + n])) for o, n in zip(page.dataoffsets, page.databytecounts)]
        offsets = []
        for strip in strips:
            offsets.append(len(data))
            data += strip
        for tag, values in ((273, offsets), (279, [len(s) for s in strips]), (259, [5])):
            field = page.tags[tag]
            code = "<" + {3: "H", 4: "I"}[field.dtype]
            for i, value in enumerate(values):
                struct.pack_into(code, data, field.valueoffset + i * struct.calcsize(code), value)
    return bytes(data)


@pytest.mark.parametrize("byteorder", ["<", ">"])
@pytest.mark.parametrize("channels", [3, 4])
def test_planar_16bit_colour_tiff_reads_exactly(tmp_path, byteorder, channels):
    """tifffile reads it; Pillow's raw reading (two 8-bit pixels per sample: 0.98 of full scale
    wrong) is made exact too, for planar TIFFs that reach it."""
    from imgconv.imageio.pillow16 import decode_16bit_colour

    samples = RNG.integers(0, 65536, (20, 30, channels), dtype=np.uint16)
    extra = {"extrasamples": ["unassalpha"]} if channels == 4 else {}
    tifffile.imwrite(tmp_path / "p.tif", np.moveaxis(samples, -1, 0), photometric="rgb",
                     planarconfig="separate", byteorder=byteorder, **extra)
    picture = read_image(tmp_path / "p.tif")
    assert picture.depth == 16 and np.array_equal(imageio.to_integer(picture.pixels, 65535), samples)
    with open(tmp_path / "p.tif", "rb") as fp, Image.open(fp) as im:
        assert np.array_equal(decode_16bit_colour(im, fp), samples)


def test_tiffs_pillow_would_misread_are_refused_or_noted(tmp_path):
    """Compressed with LZW (no imagecodecs: tifffile declines, libtiff decodes): signed 8-bit samples
    would read as unsigned (refused); planar 16-bit keeps its high bytes (read, with a note)."""
    signed = RNG.integers(-128, 128, (20, 30), dtype=np.int8)
    with pytest.raises(ImageReadError, match="signed 8-bit samples cannot be read exactly"):
        read_image(lzw_tiff(signed))
    samples = RNG.integers(0, 65536, (20, 30, 3), dtype=np.uint16)
    picture = read_image(lzw_tiff(np.moveaxis(samples, -1, 0), photometric="rgb", planarconfig="separate"))
    if picture.depth == 16:  # imagecodecs installed: tifffile decodes LZW exactly
        assert np.array_equal(imageio.to_integer(picture.pixels, 65535), samples)
    else:
        assert np.array_equal(imageio.to_integer(picture.pixels, 255), samples >> 8)
        assert picture.notes == ["16-bit samples were read with 8 bits each (Pillow keeps the high byte); tifffile "
                                 "would read them exactly, but needs the imagecodecs package for LZW compression"]


def test_signed_8bit_tiff_reads_as_signed(tmp_path):
    tifffile.imwrite(tmp_path / "neg.tif", RNG.integers(-128, 128, (6, 7), dtype=np.int8))
    with pytest.raises(ImageReadError, match=r"signed 8-bit pixels \(-\d+\.\.\d+\) below 0 are not supported"):
        read_image(tmp_path / "neg.tif")
    positive = RNG.integers(0, 128, (6, 7), dtype=np.int8)
    tifffile.imwrite(tmp_path / "pos.tif", positive)
    picture = read_image(tmp_path / "pos.tif")
    assert picture.depth == 8 and np.array_equal(picture.pixels * 255, positive.astype(np.float32))


def test_big_endian_npy_reads_and_writes(cli, tmp_path):
    samples = RNG.integers(0, 65536, (12, 16, 3), dtype=np.uint16)
    np.save(tmp_path / "be.npy", samples.astype(">u2"))
    picture = read_image(tmp_path / "be.npy")
    assert picture.depth == 16 and np.array_equal(imageio.to_integer(picture.pixels, 65535), samples)
    write_image(tmp_path / "out.png", samples.astype(">u2"))  # 16-bit, as a native uint16 array would be
    assert np.array_equal(imageio.to_integer(read_image(tmp_path / "out.png").pixels, 65535), samples)
    code, _, err = cli("filter", tmp_path / "be.npy", "-k", "identity", "-o", tmp_path / "cli.npy")
    assert code == 0, err
    assert np.array_equal(np.load(tmp_path / "cli.npy"), samples)


# --------------------------------------------------------------------------- 20, 21, 22. memory


def test_deconvolve_pads_each_axis_by_what_it_needs(tmp_path):
    """100 x 5000 grey with a 1 x 2049 PSF: 4.1 GB and 39 s before (both axes padded by 4098)."""
    save_png(tmp_path / "wide.png", RNG.integers(0, 256, (100, 5000), dtype=np.uint8))
    np.save(tmp_path / "line.npy", np.ones((1, 2049)))
    result = sh("deconvolve", tmp_path / "wide.png", "--psf", tmp_path / "line.npy", "-o", tmp_path / "out.png",
                timeout=120)
    assert result.code == 0, result.err
    assert result.peak_mib < 600, result.peak_mib


def test_deconvolve_with_a_thin_psf_restores_the_picture(photo_grey):
    from imgconv.deconvolve import deconvolve
    from imgconv.deconvolve.extension import Extension

    sharp = photo_grey[:60, :400].astype(np.float64)
    psf = np.full((1, 41), 0.5 / 40)
    psf[0, 20] = 0.5  # no zero in its spectrum: the restoration is exact up to the borders
    blurred = ndimage.convolve(sharp, psf, mode="reflect")
    restored = deconvolve(blurred.astype(np.float32), psf, balance=0)
    assert Extension(sharp.shape, psf).margins == (16, 82)
    assert np.abs(restored - sharp).max() < 1e-3
    assert np.abs(blurred - sharp).max() > 0.1


def test_fft_of_a_long_thin_image_is_tiled_not_padded_whole(tmp_path):
    """1 x 20000 under a 4097 x 1 kernel, forced FFT: the padded image alone was 4097 x 20000 float64
    (625 MiB; the whole run 1 GB)."""
    row = RNG.integers(0, 256, (1, 20000), dtype=np.uint8)
    save_png(tmp_path / "row.png", row)
    np.save(tmp_path / "column.npy", np.ones((4097, 1)) / 4097)
    result = sh("filter", tmp_path / "row.png", "-k", tmp_path / "column.npy", "--method", "fft", "--mode",
                "nearest", "--depth", "float", "-o", tmp_path / "out.npy", timeout=120)
    assert result.code == 0, result.err
    assert result.peak_mib < 300, result.peak_mib
    reference = ndimage.correlate1d(row.astype(np.float64) / 255, np.ones(4097) / 4097, axis=0, mode="nearest")
    assert np.abs(np.load(tmp_path / "out.npy") - reference).max() < 1e-5


@pytest.mark.parametrize("mode", ["reflect", "mirror", "nearest", "wrap", "constant"])
def test_tile_blocks_equal_the_padded_image(mode):
    """Each FFT tile gathers its own block: it equals the same block of numpy.pad's padded image."""
    from imgconv.engine.boundary import gather_block, source_index

    image = RNG.random((5, 7, 2)).astype(np.float32)
    numpy_mode = {"reflect": "symmetric", "mirror": "reflect", "nearest": "edge", "wrap": "wrap",
                  "constant": "constant"}[mode]
    pads = ((13, 9), (11, 17))
    extra = {"constant_values": 0.25} if mode == "constant" else {}
    padded = np.pad(image, (*pads, (0, 0)), mode=numpy_mode, **extra) if mode != "mirror" else None
    if mode == "mirror":  # numpy's 'reflect' repeats with period 2n - 2 only up to one period: build it
        padded = image[source_index(5, *pads[0], "mirror")][:, source_index(7, *pads[1], "mirror")]
    rows, cols = source_index(5, *pads[0], mode), source_index(7, *pads[1], mode)
    for (r0, r1), (c0, c1) in [((0, 27), (0, 35)), ((2, 9), (20, 33)), ((13, 18), (11, 18)), ((14, 16), (0, 4))]:
        block = gather_block(image, rows[r0:r1], cols[c0:c1], cval=0.25)
        assert np.array_equal(block, padded[r0:r1, c0:c1]), (r0, r1, c0, c1)


def _toml_of_kernels(count):
    tables = "".join(f"[[kernels]]\nmatrix = [[{i % 5}, -1], [0, 1]]\n" for i in range(count))
    return 'combine = "magnitude"\n' + tables


def test_kernel_file_with_20000_kernels_is_refused_fast(cli, work):
    path = work / "many.toml"
    path.write_text(_toml_of_kernels(20_000))  # about 0.8 MB: under the TOML size limit
    before = snapshot(work)
    start = time.perf_counter()
    code, _, err = cli("filter", work / "a.png", "-k", path)
    assert_refused(code, err, "many.toml", before=before, folder=work)
    assert "20000 matrices in one kernel; at most 64" in err
    assert time.perf_counter() - start < 20
    with pytest.raises(KernelError, match="at most 64"):
        Kernel("many", tuple(np.eye(2) for _ in range(65)), combine="sum")


@pytest.mark.parametrize("combine", ["magnitude", "sum", "max"])
def test_many_kernels_combine_as_they_come_and_equal_the_reference(photo_rgb, tmp_path, combine):
    from imgconv import filter_image, load_kernel

    path = tmp_path / "k.toml"
    path.write_text(_toml_of_kernels(64).replace('"magnitude"', f'"{combine}"'))
    image = photo_rgb[:50, :60]
    got = filter_image(image, [load_kernel(str(path))], mode="nearest")
    results = [np.stack([ndimage.convolve(image[..., c].astype(np.float64), np.array([[i % 5, -1], [0, 1]]),
                                          mode="nearest") for c in range(3)], -1) for i in range(64)]
    want = {"magnitude": lambda r: np.sqrt(sum(x * x for x in r)), "sum": sum,
            "max": lambda r: np.maximum.reduce(r)}[combine](results)
    assert np.abs(got - want).max() < 1e-4 * max(1.0, np.abs(want).max())


# --------------------------------------------------------------------------- 26. worker count


def test_jobs_are_capped_at_a_multiple_of_the_cores_with_a_note(cli, work, tmp_path, monkeypatch):
    import imgconv.batch

    for i in range(20):
        (work / f"{i}.png").write_bytes((work / "a.png").read_bytes())
    asked = []

    def recording(jobs, task, *, workers, **options):  # the run itself is not what is tested here
        asked.append(workers)
        return imgconv.batch.Summary(done=len(jobs))

    monkeypatch.setattr(imgconv.batch, "run_jobs", recording)
    cap = min(WORKERS_PER_CORE * usable_cores(), 21)
    code, _, err = cli("filter", work, "-k", "blur", "-o", tmp_path / "out", "-j", 256)
    assert code == 0 and asked == [cap], err
    assert notes(err) == [f"imgconv: note: -j 256: more than {WORKERS_PER_CORE} workers per usable core only "
                          f"share the {usable_cores()} cores; using {cap}"]
    code, _, err = cli("filter", work, "-k", "blur", "-o", tmp_path / "out", "-j", 256, "-q")
    assert code == 0 and err == "" and asked == [cap, cap]
    assert worker_count(256, jobs=10_000, cores=2) == (4, "-j 256: more than 2 workers per usable core only "
                                                          "share the 2 cores; using 4")
    assert worker_count(256, jobs=3, cores=2) == (3, None)  # never more workers than images: no note
    assert worker_count(None, jobs=10_000, cores=2) == (2, None)
    summary = run_jobs([Job(work / f"{i}.png", tmp_path / f"{i}.out") for i in range(5)], RaisesOn("-"),
                       workers=10_000)  # the library caps too
    assert summary.done == 5
