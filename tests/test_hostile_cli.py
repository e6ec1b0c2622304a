"""Hostile use of the command line (issue 11, part 2): options, streams, signals, warnings, messages.

Each test backs a row of the section "Options, streams, signals and messages (issue 11)" of
``docs/robustness.md`` and names the item of the issue it answers.  The contract checked
for a refusal (:func:`assert_one_error`): the exit code, exactly one ``imgconv: error:``
line naming what is wrong, no traceback, and nothing written.  The ``cli`` fixture runs
the CLI in-process with Python warnings as errors; subprocesses inherit
``PYTHONWARNINGS=error`` from ``conftest.py``.
"""
import io
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from scipy import ndimage

from imgconv.errors import ImgconvError, MatchError

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
RNG = np.random.default_rng(20241111)
POSIX = sys.platform != "win32"


def imgconv(*args):
    return [sys.executable, "-m", "imgconv", *map(str, args)]


def assert_one_error(code, err, *words, expected=2):
    """Exit ``expected``, one ``imgconv: error:`` line holding every word, no traceback."""
    lines = err.strip().splitlines()
    assert code == expected, err
    assert "Traceback" not in err and "Warning" not in err, err
    assert len(lines) == 1 and lines[0].startswith("imgconv: error: "), err
    for word in words:
        assert word in lines[0], err
    return lines[0]


def save(path, array):
    Image.fromarray(array).save(path)
    return path


@pytest.fixture
def pics(tmp_path):
    """A folder with a 40 x 50 RGB picture ``a.png``, a scene and a template cut from it."""
    folder = tmp_path / "in"
    folder.mkdir()
    save(folder / "a.png", RNG.integers(0, 256, (40, 50, 3), dtype=np.uint8))
    shutil.copy(SAMPLES / "scene.png", folder / "scene.png")
    shutil.copy(SAMPLES / "template.png", folder / "template.png")
    return folder


def names(folder):
    return sorted(p.name for p in Path(folder).iterdir())


# --------------------------------------------------------------------------- 6, 17: numbers


BAD_NUMBERS = [
    # (command line after the inputs, words of the message); item 6 and item 17
    (["match", "{scene}", "{template}", "--scales", "inf"], ["--scales", "finite"]),
    (["match", "{scene}", "{template}", "--scales", "1:inf:1"], ["--scales", "finite"]),
    (["match", "{scene}", "{template}", "--scales", "1e308:1e308:1"], ["--scales", "between"]),
    (["match", "{scene}", "{template}", "--scales", "0.5:2:1e-300"], ["--scales", "1.5e+300 scales"]),
    (["match", "{scene}", "{template}", "--scales", "nan:1:1"], ["--scales"]),
    (["match", "{scene}", "{template}", "--scales", "1:inf"], ["--scales", "finite"]),  # the rotated search's
    (["match", "{scene}", "{template}", "--scales", "1e-300:1"], ["--scales", "0.01..100"]),
    (["match", "{scene}", "{template}", "--angles", "0:1e308:1e-300"], ["--angles", "-360..360"]),
    (["match", "{scene}", "{template}", "--levels", "99999999999999999999"], ["--levels"]),
    (["match", "{scene}", "{template}", "-t", "2"], ["--threshold"]),
    (["match", "{scene}", "{template}", "--min-distance", "1e308"], ["--min-distance"]),
    (["match", "{scene}", "{template}", "-n", str(10**12)], ["--max-matches"]),
    (["filter", "{a}", "-k", "blur", "--scale", "1e308"], ["--scale"]),
    (["filter", "{a}", "-k", "blur", "--offset", "-1e300"], ["--offset"]),
    (["filter", "{a}", "-k", "blur", "--cval", "1e7", "--mode", "constant"], ["--cval"]),
    (["filter", "{a}", "-k", "blur", "--max-pixels", str(2**41)], ["--max-pixels"]),
    (["deconvolve", "{a}", "--psf", "1,1", "--balance", "1e39"], ["--balance"]),
    (["deconvolve", "{a}", "--psf", "1,1", "--balance", "2", "--method", "richardson-lucy"],
     ["--balance", "richardson-lucy"]),
]


@pytest.mark.parametrize("args, words", BAD_NUMBERS, ids=[" ".join(a[3:]) for a, _ in BAD_NUMBERS])
def test_numbers_out_of_bounds_are_refused_before_any_work(cli, pics, tmp_path, args, words):
    """Items 6, 17: every numeric option is bounded; no ValueError/OverflowError, no output."""
    places = {"scene": pics / "scene.png", "template": pics / "template.png", "a": pics / "a.png"}
    out = tmp_path / "out.png"
    code, stdout, err = cli(*[a.format(**places) for a in args], *(["-o", out] if args[0] != "match" else []))
    line = assert_one_error(code, err, *words)
    assert stdout == "" and not out.exists() and names(pics) == ["a.png", "scene.png", "template.png"]
    assert len(line) < 300  # item 30: no 300-digit count


NUMBER_TEXT = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["1e999", "-1e999", "1e-999", "nan", "inf", "-0", "5e-324", "1" * 400, "1e308", "0x10"]),
    st.integers(-10**30, 10**30).map(str),
)
NUMERIC_OPTIONS = [
    ("filter", "--scale"), ("filter", "--offset"), ("filter", "--cval"), ("filter", "--quality"),
    ("filter", "--max-pixels"), ("match", "-t"), ("match", "-n"), ("match", "--min-distance"),
    ("match", "--scales"), ("match", "--angles"), ("match", "--levels"), ("deconvolve", "--balance"),
    ("deconvolve", "--iterations"),
]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(option=st.sampled_from(NUMERIC_OPTIONS), value=NUMBER_TEXT)
def test_fuzz_numeric_options(cli, pics, tmp_path, option, value):
    """Item 6: any number for any numeric option gives a result or one error line, never a crash."""
    command, name = option
    inputs = [pics / "scene.png", pics / "template.png"] if command == "match" else [pics / "a.png"]
    extra = {"filter": ["-k", "blur", "--mode", "constant"], "deconvolve": ["--psf", "1,2,1"]}.get(command, [])
    out = [] if command == "match" else ["-o", tmp_path / "o.png", "--overwrite", "-q"]
    option_args = [f"{name}={value}"] if name.startswith("--") else [name, value]
    code, _, err = cli(command, *inputs, *extra, *out, *option_args)
    assert code in (0, 1, 2), err
    assert "Traceback" not in err and "internal error" not in err, err
    assert all(line.startswith("imgconv: ") or not line for line in err.splitlines()), err
    if code == 2:
        assert len(err.strip().splitlines()) == 1, err


def test_balance_at_its_bound_keeps_the_picture(cli, pics, tmp_path):
    """Item 17: the largest balance accepted gives the smoothed picture (its mean kept), not black."""
    out = tmp_path / "d.png"
    code, _, err = cli("deconvolve", pics / "a.png", "--psf", "1,1", "--balance", "1e6", "-o", out)
    assert code == 0, err
    given_mean = np.asarray(Image.open(pics / "a.png"), np.float64).mean()
    assert abs(np.asarray(Image.open(out), np.float64).mean() - given_mean) < 2


def test_library_bounds_balance():
    from imgconv.deconvolve import deconvolve

    with pytest.raises(ImgconvError, match="from 0 to 1e\\+06"):
        deconvolve(np.full((8, 8), 0.5), [[1, 1]], balance=1e39)
    with pytest.raises(ImgconvError, match="from 0 to 1 for richardson-lucy"):
        deconvolve(np.full((8, 8), 0.5), [[1, 1]], balance=2, method="richardson-lucy")
    with pytest.raises(ImgconvError, match="from 0 to 1e\\+06"):  # a volume and its 3-D PSF alike
        deconvolve(np.full((4, 8, 8), 0.5), np.full((1, 1, 2), 0.5), balance=1e39)


@pytest.mark.parametrize("scales", ["5000", "100:10000:100"])
def test_huge_scales_are_skipped_before_resizing(pics, scales):
    """Item 6: a scale within bounds that makes the template larger than the image is skipped
    before the template is resized (a 40 x 44 template at 5000 would be 4e10 pixels)."""
    done = subprocess.run(imgconv("match", pics / "scene.png", pics / "template.png", "--scales", scales,
                                  "--heatmap", pics / "heat.png"), capture_output=True, timeout=60)
    assert_one_error(done.returncode, done.stderr.decode(), "template.png", "no scale", "gives a template")
    assert not (pics / "heat.png").exists()


def test_library_bounds_scales():
    from imgconv.match import scale_steps

    for bad in [(np.inf, np.inf, 1), (1, np.inf, 1), (1e308, 1e308, 1), (0.5, 2, 1e-300), (1, 2, 0), (2, 1, 1)]:
        with pytest.raises(MatchError):
            scale_steps(*bad)
    assert len(scale_steps(1, 1000, 1)) == 1000 and scale_steps(2, 2, 1) == [2]


# --------------------------------------------------------------------------- 7: pipes


def _feed_fifo(path, data, seconds=60):
    """A thread writing ``data`` into the FIFO ``path`` once (for the reader that opens it), then,
    for ``seconds``, ending at once every later opening with an empty stream: a reader that opens
    the pipe a second time fails ("empty file") instead of waiting forever."""
    def write():
        try:
            with open(path, "wb") as fp:
                fp.write(data)
        except (BrokenPipeError, OSError):
            pass
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))  # a reader waits: EOF for it
            except OSError:  # no reader (ENXIO), or the pipe is gone
                pass
            time.sleep(0.2)
    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
@pytest.mark.parametrize("which", ["image", "template", "mask"])
def test_non_seekable_inputs_are_read_into_memory(cli, pics, tmp_path, which):
    """Item 7: a pipe (``<(cat x.png)``) as IMAGE, TEMPLATE or --mask is read like a file."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    source = {"image": "scene.png", "template": "template.png", "mask": "template.png"}[which]
    _feed_fifo(fifo, (pics / source).read_bytes())
    args = {"image": [fifo, pics / "template.png"], "template": [pics / "scene.png", fifo],
            "mask": [pics / "scene.png", pics / "template.png", "--mask", fifo]}[which]
    code, out, err = cli("match", *args, "--json")
    assert code == 0, err
    match = json.loads(out)["matches"][0]
    assert (match["x"], match["y"]) == (66, 170)  # where samples/make_samples.py cut the template


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_non_seekable_filter_input_and_its_size_limit(cli, pics, tmp_path):
    """Item 7: a pipe as a filter input; an endless one is cut at the size limit."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    _feed_fifo(fifo, (pics / "a.png").read_bytes())
    code, _, err = cli("filter", fifo, "-k", "blur", "-o", tmp_path / "b.png")
    assert code == 0, err
    assert Image.open(tmp_path / "b.png").size == (50, 40)
    endless = tmp_path / "pipe2"  # (the first pipe's feeder still ends later openings of it)
    os.mkfifo(endless)
    _feed_fifo(endless, bytes(70 * 2**20))  # 70 MB, more than any image of 10 pixels
    code, _, err = cli("filter", endless, "-k", "blur", "-o", tmp_path / "c.png", "--max-pixels", "10")
    assert_one_error(code, err, str(endless), "bytes from a pipe")
    assert not (tmp_path / "c.png").exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
@pytest.mark.parametrize("command, source", [("filter", "a.png"), ("deconvolve", "a.png"), ("filter", "anim.gif")])
def test_a_pipe_gives_what_the_file_gives(cli, pics, tmp_path, command, source):
    """Item 7: filter and deconvolve read a pipe once, even where they first look for frames or a
    volume (they read the file's header twice); an animated GIF from a pipe keeps every frame."""
    frames = [Image.fromarray(RNG.integers(0, 256, (20, 24, 3), dtype=np.uint8)) for _ in range(3)]
    frames[0].save(pics / "anim.gif", save_all=True, append_images=frames[1:], duration=80, loop=0)
    what = ["-k", "blur"] if command == "filter" else ["--psf", "1,2,1"]
    ext = Path(source).suffix
    code, _, err = cli(command, pics / source, *what, "-o", tmp_path / f"from-file{ext}")
    assert code == 0, err
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    _feed_fifo(fifo, (pics / source).read_bytes())
    code, _, err = cli(command, fifo, *what, "-o", tmp_path / f"from-pipe{ext}")
    assert code == 0 and err == "", err
    with Image.open(tmp_path / f"from-file{ext}") as a, Image.open(tmp_path / f"from-pipe{ext}") as b:
        assert getattr(a, "n_frames", 1) == getattr(b, "n_frames", 1) == (3 if ext == ".gif" else 1)
        for index in range(getattr(a, "n_frames", 1)):
            a.seek(index)
            b.seek(index)
            assert np.array_equal(np.asarray(a.convert("RGB")), np.asarray(b.convert("RGB")))


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash for <(...)")
def test_process_substitution_for_real(pics):
    """Item 7, as reported: ``imgconv match <(cat scene.png) template.png`` in bash."""
    script = 'exec "$0" -m imgconv match <(cat scene.png) template.png --mask <(cat template.png)'
    done = subprocess.run(["bash", "-c", script, sys.executable], cwd=pics, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert b"66    170" in done.stdout and done.stderr == b""


# --------------------------------------------------------------------------- 8: --glob


@pytest.mark.parametrize("pattern, words", [("/tmp/*.png", ["not absolute", "give /tmp as an input and --glob '*.png'"]),
                                            ("", ["empty pattern"]), ("  ", ["empty pattern"])])
def test_bad_glob_patterns_are_refused(cli, pics, tmp_path, pattern, words):
    """Item 8: an absolute or empty --glob is a usage error, not NotImplementedError."""
    code, _, err = cli("filter", pics, "--glob", pattern, "-k", "blur", "-o", tmp_path / "out")
    assert_one_error(code, err, "--glob", *words)
    assert not (tmp_path / "out").exists()


def test_discover_checks_its_pattern(pics):
    from imgconv.batch import discover

    with pytest.raises(ImgconvError, match="not absolute"):
        discover([pics], glob=str(pics / "*.png"))
    assert [p.name for p, _ in discover([pics], glob="a*")[0]] == ["a.png"]


# --------------------------------------------------------------------------- 9, 27: signals


def _wait_for_handler(proc, signum, timeout=60):
    """Wait until ``proc`` catches ``signum`` (imgconv's run() installed its handler): /proc/PID/status."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with open(f"/proc/{proc.pid}/status") as status:
                caught = next(int(line.split()[1], 16) for line in status if line.startswith("SigCgt:"))
        except (OSError, StopIteration):
            return False
        if caught & (1 << (signum - 1)):
            return True
        time.sleep(0.02)
    return False


@pytest.mark.skipif(not POSIX or not os.path.exists("/proc/self/status"), reason="needs /proc and POSIX signals")
@pytest.mark.parametrize("command", ["filter", "match", "deconvolve", "kernels"])
def test_sigterm_gives_130_and_one_line_for_every_command(tmp_path, pics, command):
    """Item 27: SIGTERM to any command: exit 130 and ``imgconv: interrupted``, not 143 in silence."""
    fifo = tmp_path / "blocked.png"  # opening it blocks: nobody writes
    os.mkfifo(fifo)
    if command == "kernels":  # reading it and its SVD take seconds
        np.save(tmp_path / "big.npy", RNG.random((2048, 2048)))
    args = {"filter": [fifo, "-k", "blur", "-o", tmp_path / "o.png"],
            "match": [fifo, pics / "template.png"],
            "deconvolve": [fifo, "--psf", "1,1", "-o", tmp_path / "o.png"],
            "kernels": [tmp_path / "big.npy"]}[command]
    proc = subprocess.Popen(imgconv(command, *args), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert _wait_for_handler(proc, signal.SIGTERM), proc.communicate()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert err.decode() == "imgconv: interrupted\n" and out == b""


_INTERRUPT_DURING_COMPILATION = """
import os, signal, sys, threading, time
import imgconv.loopcache as cache
from imgconv.cli import run

# with an empty cache a one-off command would leave the loops to a background process; here
# they pay at once, so the foreground compiles them
cache.loop_cost_ms = lambda: 0.0
cache.warm_in_background = lambda *args, **kwargs: None

def interrupt_when_compiling():
    while not any(t.name == "imgconv-compile" for t in threading.enumerate()):
        time.sleep(0.01)
    time.sleep(0.3)  # inside numba's compiler by now
    with open(sys.argv[1], "w") as flag:
        flag.write(str(time.monotonic()))
    os.kill(os.getpid(), signal.SIGINT)

threading.Thread(target=interrupt_when_compiling, daemon=True).start()
run(sys.argv[2:])
"""


@pytest.mark.skipif(not POSIX, reason="POSIX signals")
def test_ctrl_c_during_first_compilation_is_a_clean_130(tmp_path, pics):
    """Item 9: Ctrl-C while numba compiles (a cold cache) stops at once with exit 130 and one line.

    Before, numba/LLVM callbacks swallowed the KeyboardInterrupt: exit 0 with the table after the
    whole compilation, or ``RuntimeError: no compiled object yet``, with ctypes-callback noise.
    """
    pytest.importorskip("numba")
    from imgconv.settings import numba_installed

    if not numba_installed():
        pytest.skip("compiled loops disabled")
    scene = tmp_path / "big.png"  # 1100 x 1100: the ZNCC normaliser runs compiled
    smooth = ndimage.gaussian_filter(RNG.random((1100, 1100)), 2)
    save(scene, np.rint((smooth - smooth.min()) / np.ptp(smooth) * 255).astype(np.uint8))
    save(tmp_path / "t.png", np.asarray(Image.open(scene))[100:140, 200:250])
    flag = tmp_path / "signalled"
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba-cache"))  # nothing compiled yet
    proc = subprocess.run([sys.executable, "-c", _INTERRUPT_DURING_COMPILATION, flag, "match", scene,
                           tmp_path / "t.png"], env=env, capture_output=True, timeout=300)
    ended = time.monotonic()
    assert flag.exists(), proc.stderr  # the compilation was reached and interrupted
    assert proc.returncode == 130, proc.stderr
    assert proc.stderr == b"imgconv: interrupted\n" and proc.stdout == b""
    assert ended - float(flag.read_text()) < 10  # not after finishing the compilation


# --------------------------------------------------------------------------- 10: --scheduler


@pytest.mark.parametrize("address, words", [
    ("garbage", ["not protocol://host:port"]), ("", ["empty"]), ("inproc://x", ["inproc"]),
    ("ftp://head:21", ["unknown protocol"]), ("tcp://head:99999", ["port"]), ("tcp://:8786", ["host:port"]),
])
def test_bad_scheduler_addresses_are_refused_at_once(cli, pics, tmp_path, address, words):
    """Item 10: a bad --scheduler is one line, at once (it was 10.4 s and Client.__del__ noise)."""
    pytest.importorskip("distributed")
    start = time.perf_counter()
    code, _, err = cli("filter", pics / "a.png", "-k", "blur", "-o", tmp_path / "o.png", "--scheduler", address)
    assert_one_error(code, err, "--scheduler", *words)
    assert time.perf_counter() - start < 2 and not (tmp_path / "o.png").exists()


def _not_dask_server():
    """A local TCP server answering like an HTTP proxy (``426 Upgrade Required``) to anything."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)

    def serve():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            try:
                conn.recv(1024)
                conn.sendall(b"HTTP/1.0 426 Upgrade Required\r\nconnection: close\r\n\r\n")
            except OSError:
                pass
            finally:
                conn.close()
    threading.Thread(target=serve, daemon=True).start()
    return server


def _closed_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("far_end", ["not a scheduler", "nothing listening"])
def test_unreachable_scheduler_is_one_line_within_the_timeout(pics, tmp_path, far_end):
    """Item 10: what answers is not Dask (MemoryError before), or nothing answers: one line, in
    about the 5 s the README promises (plus start-up), no ``Exception ignored`` noise."""
    pytest.importorskip("distributed")
    server = _not_dask_server() if far_end == "not a scheduler" else None
    port = server.getsockname()[1] if server else _closed_port()
    try:
        start = time.perf_counter()
        done = subprocess.run(imgconv("filter", pics / "a.png", "-k", "blur", "-o", tmp_path / "o.png",
                                      "--scheduler", f"tcp://127.0.0.1:{port}"), capture_output=True, timeout=60)
        seconds = time.perf_counter() - start
    finally:
        if server:
            server.close()
    assert_one_error(done.returncode, done.stderr.decode(), "cannot reach the Dask scheduler")
    # 5 s of connection timeout plus start-up (importing distributed takes 1-3 s on a busy machine);
    # the half-made client's close used to add twice the timeout (15 s and more)
    assert seconds < 12, seconds


def test_scheduler_address_checker():
    from imgconv.batch.connect import check_scheduler_address

    assert check_scheduler_address("head:8786") == "tcp://head:8786"
    assert check_scheduler_address("TLS://[::1]:8786") == "tls://[::1]:8786"
    with pytest.raises(ImgconvError, match="inproc"):
        check_scheduler_address("inproc://192.168.1.1/123/1")


# --------------------------------------------------------------------------- 15: streams


@pytest.mark.parametrize("option", ["--annotate", "--heatmap", "--scores"])
def test_match_refuses_a_picture_on_the_results_stream(cli, pics, option):
    """Item 15: ``match ... --annotate -`` wrote PNG bytes, then the table, into stdout."""
    code, out, err = cli("match", pics / "scene.png", pics / "template.png", option, "-")
    assert_one_error(code, err, f"{option} -", "standard output")
    assert out == ""


def test_match_refuses_two_outputs_in_one_file(cli, pics, tmp_path):
    code, _, err = cli("match", pics / "scene.png", pics / "template.png", "--annotate", tmp_path / "x.png",
                       "--heatmap", tmp_path / "." / "x.png")
    assert_one_error(code, err, "--annotate and --heatmap", "x.png")
    assert not (tmp_path / "x.png").exists()


def _run_on_terminal(args, stdin_path=None, terminal="stdout"):
    """Run imgconv with stdout (or stdin) on a pseudo-terminal: (exit code, stderr, bytes shown on it)."""
    import pty

    main, secondary = pty.openpty()
    try:
        stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
        streams = {"stdout": secondary, "stdin": stdin} if terminal == "stdout" else \
            {"stdout": subprocess.PIPE, "stdin": secondary}
        done = subprocess.run(imgconv(*args), stderr=subprocess.PIPE, timeout=60, **streams)
        os.set_blocking(main, False)
        try:
            shown = os.read(main, 1 << 16)
        except (BlockingIOError, OSError):
            shown = b""
    finally:
        os.close(main)
        os.close(secondary)
    return done.returncode, done.stderr.decode(), shown


@pytest.mark.skipif(not POSIX, reason="needs a pseudo-terminal")
@pytest.mark.parametrize("args", [["filter", "-", "-k", "blur"], ["filter", "-", "-k", "blur", "-o", "-"],
                                  ["deconvolve", "-", "--psf", "1,1"]])
def test_image_bytes_never_go_to_a_terminal(pics, args):
    """Item 15: ``imgconv filter - -k blur < a.png`` on a terminal dumped PNG bytes; refused, as gzip does."""
    code, err, shown = _run_on_terminal(args, stdin_path=pics / "a.png")
    assert_one_error(code, err, "terminal")
    assert b"PNG" not in shown


@pytest.mark.skipif(not POSIX, reason="needs a pseudo-terminal")
def test_image_data_is_not_read_from_a_terminal(pics, tmp_path):
    code, err, _ = _run_on_terminal(["filter", "-", "-k", "blur", "-o", tmp_path / "o.png"], terminal="stdin")
    assert_one_error(code, err, "terminal")


# --------------------------------------------------------------------------- 16: kernel magnitude


@pytest.mark.parametrize("spec", ["1e308 1e308 1e308", "1e200, -1e200; 3e200, 4e200", "3.5e38"])
def test_kernels_beyond_float32_are_refused(cli, pics, tmp_path, spec):
    """Item 16: a sum that overflows gave white (--normalize skipped), mean 251 (direct), black (fft)."""
    for args in (["filter", pics / "a.png", "-k", spec, "--normalize", "-o", tmp_path / "o.png"],
                 ["filter", pics / "a.png", "-k", spec, "--method", "fft", "-o", tmp_path / "o.png"],
                 ["kernels", spec]):
        assert_one_error(*cli(*args)[::2], "too large", "float32")
    assert not (tmp_path / "o.png").exists()


def test_kernel_files_beyond_float32_are_refused(cli, tmp_path):
    np.save(tmp_path / "k.npy", np.full((3, 3), 1e300))
    (tmp_path / "k.toml").write_text("matrix = [[1e300, 1e300]]\n")
    for name in ("k.npy", "k.toml"):
        assert_one_error(*cli("kernels", tmp_path / name)[::2], "too large")


def test_largest_kernel_within_float32_filters_without_warnings(cli, pics, tmp_path):
    """Item 16: just below the bound the result saturates (white where the picture is not black)."""
    code, _, err = cli("filter", pics / "a.png", "-k", "1e38 1e38 1e38", "-o", tmp_path / "o.png", "--scale", "1e6")
    assert code == 0 and err == "", err
    assert np.asarray(Image.open(tmp_path / "o.png")).min() == 255


def test_engine_refuses_kernels_beyond_float32():
    from imgconv import convolve
    from imgconv.errors import EngineError

    with pytest.raises(EngineError, match="too large"):
        convolve(np.ones((4, 4)), [[1e308, 1e308]])


# --------------------------------------------------------------------------- 19: options


@pytest.mark.parametrize("args, words", [
    (["--overwrite", "--skip-existing"], ["--overwrite and --skip-existing"]),
    (["-o", "{out}/x.png", "--format", "jpg"], ["--format jpg contradicts"]),
    (["-o", "{out}/x.jpeg", "--format", "png"], ["--format png contradicts"]),
    (["--json", "-o", "-"], ["--json", "standard output"]),
])
def test_contradicting_options_are_refused(cli, pics, tmp_path, args, words):
    """Item 19: contradictions are exit 2 before anything is read or written."""
    code, out, err = cli("filter", pics / "a.png", "-k", "blur", *[a.format(out=tmp_path) for a in args])
    assert_one_error(code, err, *words)
    assert out == "" and names(tmp_path) == ["in"] and names(pics) == ["a.png", "scene.png", "template.png"]


@pytest.mark.parametrize("command, args, note", [
    ("filter", ["-k", "blur", "--cval", "0.5"], "--cval is used by --mode constant (not reflect) and for missing"),
    ("deconvolve", ["--psf", "1,1", "--cval", "0.5", "--mode", "wrap"], "--cval is used by --mode constant (not wrap)"),
    ("filter", ["-k", "blur", "--quality", "80"], "--quality is used only for JPEG and WebP"),
    ("filter", ["-k", "blur", "--glob", "*.png"], "--glob is used only for folder inputs"),
    ("filter", ["-k", "blur", "-r"], "-r/--recursive is used only for folder inputs"),
    ("deconvolve", ["--psf", "1,1", "--iterations", "5"], "--iterations is used only by --method richardson-lucy"),
])
def test_options_that_do_nothing_are_noted(cli, pics, tmp_path, command, args, note):
    """Item 19: an option that changes nothing is named in one note; -q silences it."""
    out = tmp_path / "o.png"
    code, _, err = cli(command, pics / "a.png", *args, "-o", out)
    assert code == 0 and err.startswith(f"imgconv: note: {note}"), err
    assert len(err.strip().splitlines()) == 1 and out.exists()
    code, _, err = cli(command, pics / "a.png", *args, "-o", out, "--overwrite", "-q")
    assert code == 0 and err == ""


@pytest.mark.parametrize("args", [["--cval", "0.5", "--mode", "constant"], ["--quality", "80", "-o", "{out}/o.jpg"],
                                  ["--format", "jpg", "-o", "{out}/o.jpg"],
                                  ["--cval", "0.5", "--valid", "{a}"]])  # --cval fills the missing pixels
def test_options_used_are_not_noted(cli, pics, tmp_path, args):
    args = [a.format(out=tmp_path, a=pics / "a.png") for a in args]
    code, _, err = cli("filter", pics / "a.png", "-k", "blur", *(args if "-o" in args else [*args, "-o", tmp_path / "o.png"]))
    assert code == 0 and err == "", err


def test_jobs_with_a_scheduler_get_one_note_not_two(cli, pics, tmp_path, monkeypatch):
    """Item 19 beside part 1's -j cap: -j with --scheduler is noted as unused, not also as capped."""
    import imgconv.batch
    import imgconv.settings
    from imgconv.batch import Summary

    monkeypatch.setattr(imgconv.batch, "run_jobs", lambda jobs, *a, **k: Summary(done=len(jobs)))
    monkeypatch.setattr(imgconv.settings, "usable_cores", lambda: 1)  # 3 images, -j 256: over the cap of 2
    code, _, err = cli("filter", pics, "-k", "blur", "-o", tmp_path / "out", "-j", "256",
                       "--scheduler", "tcp://127.0.0.1:8786")
    notes = [line for line in err.splitlines() if line.startswith("imgconv: note: ")]
    assert code == 0 and notes == ["imgconv: note: -j/--jobs is not used with --scheduler (the cluster's workers "
                                   "run the images): ignored"], err


def test_match_notes_min_distance_without_several_matches(cli, pics):
    code, _, err = cli("match", pics / "scene.png", pics / "template.png", "--min-distance", "5")
    assert code == 0 and err.strip() == "imgconv: note: --min-distance is used only with -n/--max-matches above 1: ignored"


# --------------------------------------------------------------------------- 25: suppression


def _quadratic_suppression(cx, cy, radius, max_matches):
    """The former greedy suppression, one pass over every peak per accepted peak: the reference."""
    alive = np.ones(len(cx), bool)
    kept = []
    while len(kept) < max_matches and alive.any():
        best = int(np.argmax(alive))
        kept.append(best)
        alive[best] = False
        if radius[best] > 0:
            alive &= ~((np.abs(cy - cy[best]) < radius[best]) & (np.abs(cx - cx[best]) < radius[best]))
    return kept


@settings(max_examples=150, deadline=None)
@given(count=st.integers(0, 300), spread=st.sampled_from([3.0, 20.0, 200.0]), seed=st.integers(0, 2**32 - 1),
       radii=st.sampled_from(["one", "mixed", "zero", "tiny", "huge"]), max_matches=st.integers(1, 400))
def test_fast_suppression_equals_the_quadratic_one(count, spread, seed, radii, max_matches):
    """Item 25: the k-d tree suppression keeps exactly the peaks the quadratic loop kept.

    Centres on the half-pixel grid (as window centres are), so distances equal to a radius,
    the boundary case of "closer than", are frequent.
    """
    from imgconv.match.peaks import _greedy_suppression

    rng = np.random.default_rng(seed)
    cx, cy = np.round(rng.uniform(0, spread, (2, count)) * 2) / 2
    radius = {"one": np.full(count, 2.0), "mixed": rng.integers(1, 12, count) / 2, "zero": np.zeros(count),
              "tiny": np.full(count, 1e-300), "huge": np.full(count, 1e300)}[radii]
    fast = _greedy_suppression(cx, cy, radius, max_matches).tolist()
    assert fast == _quadratic_suppression(cx, cy, radius, max_matches)


def _reference_subpixel(scores, y, x, r=4):
    """The former per-peak refinement: SciPy's spline filter and map_coordinates on one 9 x 9 patch."""
    patch = scores[y - r:y + r + 1, x - r:x + r + 1]
    coefficients = ndimage.spline_filter(patch, order=5, mode="mirror")
    best = np.zeros(2)
    for step in (0.1, 0.01):
        grid = np.arange(-5, 6) * step
        gy, gx = np.meshgrid(best[0] + grid, best[1] + grid, indexing="ij")
        gy, gx = np.clip(gy, -0.5, 0.5).ravel(), np.clip(gx, -0.5, 0.5).ravel()
        values = ndimage.map_coordinates(coefficients, [gy + r, gx + r], order=5, prefilter=False, mode="mirror")
        k = int(np.argmax(values))
        best = np.array([gy[k], gx[k]])
    return best


def test_batched_subpixel_refinement_equals_scipy_per_peak():
    """Item 25: the refinement of all matches at once gives SciPy's per-patch spline maxima."""
    from imgconv.match import find_matches

    scores = ndimage.gaussian_filter(RNG.standard_normal((150, 180)), 1.5)
    scores /= np.abs(scores).max()
    matches = find_matches(scores, (9, 9), max_matches=10**6, threshold=-1, min_distance=0)
    assert len(matches) > 200
    compared = 0
    for m in matches:
        if 4 <= m.y < 146 and 4 <= m.x < 176:
            dy, dx = _reference_subpixel(scores, m.y, m.x)
            assert (m.cy - m.y - 4, m.cx - m.x - 4) == pytest.approx((dy, dx), abs=1e-9)
            compared += 1
    assert compared > 150


def test_many_matches_on_noise_through_the_cli(cli, tmp_path):
    """Item 25: ``match -t -1 -n 100000000`` on noise reports every suppressed-apart peak (the
    timing, 72 s before and 7.7 s after on 2000 x 2000, is in benchmarks/bench_peaks.py)."""
    save(tmp_path / "noise.png", RNG.integers(0, 256, (200, 200), dtype=np.uint8))
    save(tmp_path / "t.png", RNG.integers(0, 256, (12, 12), dtype=np.uint8))
    code, out, err = cli("match", tmp_path / "noise.png", tmp_path / "t.png", "-t", "-1", "-n", "100000000", "--json")
    assert code == 0, err
    found = json.loads(out)["matches"]
    centres = np.array([(m["x"], m["y"]) for m in found])
    assert len(found) > 500
    gaps = np.abs(centres[:, None, :] - centres[None, :, :]).max(axis=2) + np.eye(len(found)) * 99
    assert gaps.min() >= 6  # no two closer than half the template's side


# --------------------------------------------------------------------------- 28: warnings


def test_float64_values_beyond_float32_are_refused(cli, tmp_path):
    """Item 28: a float64 .npy of 1e308 printed 'overflow encountered in cast'."""
    np.save(tmp_path / "huge.npy", np.full((8, 8), 1e308))
    assert_one_error(*cli("filter", tmp_path / "huge.npy", "-k", "blur", "-o", tmp_path / "o.npy")[::2],
                     "huge.npy", "float32")


def test_flat_image_matches_nothing_without_a_warning(cli, pics, tmp_path):
    """Item 28: match on a flat image printed 'invalid value encountered in divide'."""
    save(tmp_path / "flat.png", np.full((60, 70), 128, np.uint8))
    code, out, err = cli("match", tmp_path / "flat.png", pics / "template.png", "--gray")
    assert code == 1 and err == "imgconv: no match scored 0.5 or more\n", err


def test_tiny_log_sigma_is_one_line(cli):
    """Item 28: log:sigma=1e-300 printed 'divide by zero encountered in divide' first."""
    assert_one_error(*cli("kernels", "log:sigma=1e-300")[::2], "cannot be sampled")


@pytest.mark.slow
def test_libjpeg_and_pillow_warnings_never_reach_stderr(tmp_path):
    """Item 28, in real processes (C libraries write to descriptor 2, which capsys cannot see):
    a 1 x 100000 JPEG (libjpeg printed its own line) and --explain on a 124-megapixel TIFF
    (Pillow's DecompressionBombWarning)."""
    save(tmp_path / "wide.png", np.zeros((1, 100000), np.uint8))
    done = subprocess.run(imgconv("filter", tmp_path / "wide.png", "-k", "blur", "-o", tmp_path / "wide.jpg"),
                          capture_output=True, timeout=60)
    assert_one_error(done.returncode, done.stderr.decode(), "wide.jpg", "65500")
    Image.new("L", (12000, 10400)).save(tmp_path / "big.tif", compression="tiff_deflate")
    done = subprocess.run(imgconv("filter", tmp_path / "big.tif", "-k", "blur", "--explain", "--max-pixels", "10",
                                  "-o", tmp_path / "o.png"), capture_output=True, timeout=60)
    lines = done.stderr.decode().splitlines()
    assert done.returncode == 2 and lines[0] == "plan for 12000x10400 grey (%s):" % (tmp_path / "big.tif"), lines
    assert lines[-1].startswith("imgconv: error: ") and "image too large" in lines[-1]
    assert not any("Warning" in line for line in lines), lines


@pytest.mark.parametrize("command", ["filter", "match"])
def test_a_warning_that_escapes_is_one_note(capsys, pics, tmp_path, monkeypatch, command):
    """Item 28, the safety net: outside the suite's error filter, a stray warning is one note line
    (in a batch, a note of the image being processed, also from worker processes)."""
    import imgconv.match
    from imgconv import filtering
    from imgconv.cli import run

    def warning_first(real):
        def warns(*args, **kwargs):
            warnings.warn("something odd\nsecond line", RuntimeWarning, stacklevel=1)
            return real(*args, **kwargs)
        return warns

    if command == "filter":
        # (combine: what the whole image and the strips, in their thread, both run)
        monkeypatch.setattr(filtering, "combine", warning_first(filtering.combine))
        args, prefix = ["filter", str(pics / "a.png"), "-k", "blur", "-o", str(tmp_path / "o.png")], f"{pics / 'a.png'}: "
    else:
        monkeypatch.setattr(imgconv.match, "prepare_match", warning_first(imgconv.match.prepare_match))
        args, prefix = ["match", str(pics / "scene.png"), str(pics / "template.png")], ""
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        with pytest.raises(SystemExit) as exit_:
            run(args)
    err = capsys.readouterr().err
    assert exit_.value.code == 0
    assert err == f"imgconv: note: {prefix}RuntimeWarning: something odd\\nsecond line (please report this)\n"


def test_unexpected_exceptions_are_one_internal_error_line(cli, pics, monkeypatch):
    """Done on main, checked here: a bug is one line and exit 70 (IMGCONV_DEBUG=1: the traceback)."""
    import imgconv.match

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug\nwith two lines")

    monkeypatch.setattr(imgconv.match, "match_template", broken)
    code, _, err = cli("match", pics / "scene.png", pics / "template.png")
    assert code == 70 and err == ("imgconv: internal error: ZeroDivisionError: a bug (please report this; "
                                  "IMGCONV_DEBUG=1 shows the traceback)\n")
    monkeypatch.setenv("IMGCONV_DEBUG", "1")
    with pytest.raises(ZeroDivisionError):
        cli("match", pics / "scene.png", pics / "template.png")


# --------------------------------------------------------------------------- 29: the right file


def test_nan_image_is_blamed_on_the_image(cli, pics, tmp_path):
    """Item 29: a NaN image was blamed on the template; a NaN template is the template's."""
    np.save(tmp_path / "nan.npy", np.full((60, 60), np.nan, np.float32))
    template = tmp_path / "t.npy"
    np.save(template, RNG.random((10, 10)).astype(np.float32))
    line = assert_one_error(*cli("match", tmp_path / "nan.npy", template)[::2], "nan.npy", "NaN")
    assert "t.npy" not in line
    np.save(tmp_path / "scene.npy", RNG.random((60, 60)).astype(np.float32))
    line = assert_one_error(*cli("match", tmp_path / "scene.npy", tmp_path / "nan.npy")[::2], "NaN")
    assert line.startswith(f"imgconv: error: {tmp_path / 'nan.npy'}:")


@pytest.mark.parametrize("shape", [(0, 5), (4, 0, 3), (0, 0)])
def test_zero_size_npy_is_blamed_on_the_input(cli, tmp_path, shape):
    """Item 29: a zero-size .npy was reported against the output ('pixels of shape ...')."""
    np.save(tmp_path / "empty.npy", np.zeros(shape, np.float32))
    line = assert_one_error(*cli("filter", tmp_path / "empty.npy", "-k", "blur", "-o", tmp_path / "o.png")[::2],
                            "empty.npy", "empty image")
    assert "o.png" not in line


def test_output_folder_that_cannot_be_made_is_blamed_on_the_output(cli, pics, tmp_path):
    """Item 29: a mkdir failure for the mirrored tree named the input."""
    tree = tmp_path / "tree" / "sub"
    tree.mkdir(parents=True)
    shutil.copy(pics / "a.png", tree / "a.png")
    (tmp_path / "blocker").write_text("a file where a folder is needed")
    code, _, err = cli("filter", tmp_path / "tree", "-r", "-k", "blur", "-o", tmp_path / "blocker" / "out")
    assert code == 3, err
    error = next(line for line in err.splitlines() if line.startswith("imgconv: error:"))
    assert error == (f"imgconv: error: {tmp_path / 'blocker' / 'out' / 'sub' / 'a.png'}: cannot create the folder "
                     f"{tmp_path / 'blocker'}: a file is in the way, not a folder")


def test_wrong_size_mask_is_blamed_on_the_mask(cli, pics, tmp_path):
    """Items 29, 31: a mask of the wrong size was reported against the template file."""
    mask = save(tmp_path / "mask.png", np.full((7, 9), 255, np.uint8))
    line = assert_one_error(*cli("match", pics / "scene.png", pics / "template.png", "--mask", mask)[::2],
                            "mask (9x7) must be the size of the template (40x44)")
    assert line.startswith(f"imgconv: error: {mask}:")


# --------------------------------------------------------------------------- 30: one line


@pytest.mark.parametrize("name", ["bad\nimgconv: error: forged.png", "esc\x1b[2Jape.png", "tab\there.png",
                                  "sep\u2028line.png", "bell\x07.png"])
def test_control_characters_in_names_cannot_forge_lines(cli, tmp_path, name):
    """Item 30: a newline in a file name forged a second error line; control characters are escaped."""
    code, _, err = cli("filter", tmp_path / name, "-k", "blur", "-o", tmp_path / "o.png")
    line = assert_one_error(code, err, "no such file")
    assert not any(c in line for c in "\n\x1b\t\u2028\x07")


def test_names_in_the_match_table_are_escaped(cli, pics, tmp_path):
    scene = tmp_path / "two\nlines.png"
    shutil.copy(pics / "scene.png", scene)
    code, out, err = cli("match", scene, pics / "template.png")
    assert code == 0, err
    assert out.splitlines()[0].startswith("image ") and "two\\nlines.png" in out.splitlines()[0]
    assert len(out.splitlines()) == 3


def test_kernel_names_and_descriptions_print_on_one_line(cli, tmp_path):
    kernel = tmp_path / "k\nforged.txt"
    kernel.write_text("1 2 1\n")
    (tmp_path / "d.toml").write_text('description = "one\\ntwo"\nmatrix = [[1, 2, 1]]\n')
    for path, header in ((kernel, "k\\nforged.txt"), (tmp_path / "d.toml", "one\\ntwo")):
        code, out, err = cli("kernels", path)
        assert code == 0 and header in out.splitlines()[0] and out.splitlines()[1] == "", out


def test_long_numbers_and_lines_are_cut(cli):
    """Item 30: a 5000-digit fraction was echoed whole (a 5 KB line)."""
    code, _, err = cli("kernels", "1/" + "7" * 5000)
    line = assert_one_error(code, err, "(5000 digits)")
    assert len(line) < 200
    from imgconv.cli.messages import MAX_LINE, one_line

    assert len(one_line("x" * 100000)) <= MAX_LINE and "characters cut" in one_line("x" * 100000)
    assert one_line("1" * 40) == "1" * 40  # 40 digits and fewer are shown whole


def test_undecodable_bytes_in_names_are_shown_as_bytes(cli, tmp_path):
    name = os.fsdecode(b"caf\xe9.png")
    line = assert_one_error(*cli("filter", tmp_path / name, "-k", "blur")[::2], "no such file")
    assert "caf\\xe9.png" in line


# --------------------------------------------------------------------------- 31: messages


@pytest.mark.parametrize("spec, words", [
    ("gausian:sigma=2", ["did you mean 'gaussian'?"]),
    ("Sobell", ["did you mean 'sobel'?"]),
    ("gaussian:2", ["'2' has no name", "gaussian:sigma=2", "sigma, size"]),
    ("gaussian:sigma", ["'sigma' has no value"]),
    ("motion:15", ["motion:length=15"]),
    ("sobel:x", ["sobel:direction=x"]),
    ("laplacian:3", ["takes no parameters"]),
])
def test_kernel_messages_say_what_was_meant(cli, spec, words):
    """Item 31: no 'did you mean', and 'gaussian:2' did not name sigma."""
    assert_one_error(*cli("kernels", spec)[::2], *words)


def test_deconvolve_with_k_points_to_psf(cli, pics):
    """Item 31: ``imgconv deconvolve x.png -k ...`` gave 'No such option' without a hint."""
    assert_one_error(*cli("deconvolve", pics / "a.png", "-k", "gaussian:sigma=2")[::2],
                     "--psf SPEC, not -k", "--psf gaussian:sigma=2")


def test_collision_advice_fits_its_cause(cli, pics, tmp_path):
    """Item 31: 'use --format' was advised when --format caused the collision."""
    save(pics / "a.jpg", RNG.integers(0, 256, (8, 8, 3), dtype=np.uint8))
    line = assert_one_error(*cli("filter", pics / "a.png", pics / "a.jpg", "-k", "blur", "-o", tmp_path / "o",
                                 "--format", "png")[::2], "--format png gives them the same name")
    assert "use --format" not in line
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(pics / "a.png", other / "a.png")
    assert_one_error(*cli("filter", pics / "a.png", other / "a.png", "-k", "blur", "-o", tmp_path / "o")[::2],
                     "same name from different folders")


def test_existing_outputs_are_counted(cli, pics, tmp_path):
    """Item 31: an existing output folder named only the first existing file, not how many."""
    out = tmp_path / "out"
    out.mkdir()
    for name in ("a.png", "scene.png"):
        shutil.copy(pics / name, out / name)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert_one_error(*cli("filter", pics, "-k", "blur", "-o", out)[::2],
                     "a.png: output exists, and 1 more of the 3 outputs", "--skip-existing")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


# --------------------------------------------------------------------------- 32: --json


@pytest.mark.parametrize("command, args", [("filter", ["-k", "blur"]), ("deconvolve", ["--psf", "1,2,1"])])
def test_json_report_of_a_run(cli, pics, tmp_path, command, args):
    """Item 32: one JSON object on stdout: inputs, outputs, per-file status and error, counts, seconds."""
    (pics / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    (pics / "notes.txt").write_text("not an image")
    out = tmp_path / "out"
    code, stdout, err = cli(command, pics, *args, "-o", out, "--json")
    assert code == 3, err
    assert len(stdout.splitlines()) == 1
    report = json.loads(stdout)
    files = {Path(f["input"]).name: f for f in report["files"]}
    assert report["command"] == command and set(files) == {"a.png", "broken.png", "scene.png", "template.png"}
    assert files["broken.png"]["status"] == "failed" and "broken.png" in files["broken.png"]["error"]
    assert all(files[n]["status"] == "done" and files[n]["error"] is None for n in ("a.png", "scene.png"))
    assert report["counts"] == {"done": 3, "skipped": 0, "failed": 1, "not_run": 0}
    assert sorted(Path(p).name for p in report["outputs"]) == ["a.png", "scene.png", "template.png"]
    assert all(Path(p).exists() for p in report["outputs"]) and report["ignored"] == [str(pics / "notes.txt")]
    assert report["seconds"] > 0 and report["interrupted"] is False
    assert "done 3" not in err  # the summary line is the report's
    assert any(line.startswith("imgconv: error: ") and "broken.png" in line for line in err.splitlines())


def test_json_report_with_skipped_outputs(cli, pics, tmp_path):
    out = tmp_path / "out"
    assert cli("filter", pics / "a.png", pics / "scene.png", "-k", "blur", "-o", out)[0] == 0
    (out / "scene.png").unlink()
    code, stdout, _ = cli("filter", pics / "a.png", pics / "scene.png", "-k", "blur", "-o", out, "--skip-existing",
                          "--json")
    report = json.loads(stdout)
    assert code == 0 and report["counts"] == {"done": 1, "skipped": 1, "failed": 0, "not_run": 0}
    assert [(Path(f["input"]).name, f["status"]) for f in report["files"]] == [("a.png", "skipped"),
                                                                                 ("scene.png", "done")]
    assert report["inputs"] == [str(pics / "a.png"), str(pics / "scene.png")]  # as given, skipped or not


def test_json_report_of_an_interrupted_run(cli, pics, tmp_path, monkeypatch):
    from imgconv import tasks

    real = tasks.FilterTask.__call__
    calls = []

    def stop_at_the_second(self, job):
        calls.append(job)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, job)

    monkeypatch.setattr(tasks.FilterTask, "__call__", stop_at_the_second)
    code, stdout, err = cli("filter", pics, "-k", "blur", "-o", tmp_path / "out", "-j", "1", "--json")
    report = json.loads(stdout)
    assert code == 130 and report["interrupted"] is True
    assert report["counts"] == {"done": 1, "skipped": 0, "failed": 0, "not_run": 2}


def test_json_refuses_stdout_images(cli, pics):
    """Item 32: --json cannot share stdout with an image (-o -, or stdin without -o)."""
    for args in (["-o", "-"], []):
        with open(pics / "a.png", "rb") as image:
            stdin = sys.stdin
            sys.stdin = io.TextIOWrapper(image)
            try:
                code, stdout, err = cli("filter", "-" if not args else pics / "a.png", "-k", "blur", "--json", *args)
            finally:
                sys.stdin = stdin
        assert_one_error(code, err, "--json")
        assert stdout == ""


def test_the_command_ends_at_once_with_its_code_and_its_output_flushed(tmp_path):
    """``imgconv`` (the console entry) ends with os._exit after run(): the exit code, stdout and
    stderr are what run() produced, the output is published, and a closed pipe is quiet."""
    listing = subprocess.run(imgconv("kernels"), capture_output=True, text=True, timeout=60)
    assert listing.returncode == 0 and listing.stderr == "" and listing.stdout.rstrip().count("\n") > 10
    out = tmp_path / "o.png"
    done = subprocess.run(imgconv("filter", SAMPLES / "camera.png", "-k", "gaussian:sigma=2", "-o", out, "--json"),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and json.loads(done.stdout)["outputs"] and out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.png"]  # no temporary file left
    bad = subprocess.run(imgconv("filter", SAMPLES / "camera.png", "-k", "nosuchkernel"), capture_output=True,
                         text=True, timeout=60)
    assert_one_error(bad.returncode, bad.stderr, "nosuchkernel")
    head = subprocess.run(f"{shlex.join(imgconv('kernels'))} | head -n 1", shell=True, capture_output=True,
                          text=True, timeout=60)
    assert head.returncode == 0 and head.stderr == "" and len(head.stdout.splitlines()) == 1
