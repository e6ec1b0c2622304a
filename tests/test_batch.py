"""Many-image runs: folders, formats, collisions, resume, progress, interrupts, Dask clusters."""
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from batch_tasks import DiesOn, Stubborn, Unloadable
from PIL import Image

from imgconv.batch import Job, plan_jobs, run_jobs
from imgconv.errors import ImgconvError


def imgconv(*args):
    return [sys.executable, "-m", "imgconv", *map(str, args)]


def pixels(path):
    with Image.open(path) as im:
        return np.asarray(im)


def files(folder):
    """Every file under ``folder`` (temporaries included), as sorted relative posix paths."""
    return sorted(p.relative_to(folder).as_posix() for p in Path(folder).rglob("*") if p.is_file())


def single_run(cli, src, dst, *args):
    """The reference: ``imgconv filter`` on one file."""
    code, _, err = cli("filter", src, "-o", dst, *args)
    assert code == 0, err
    return pixels(dst)


@pytest.fixture
def tree(tmp_path, photo_rgb):
    """A nested folder of mixed formats and depths, one text file, one corrupt PNG."""
    src = tmp_path / "in"
    (src / "b" / "c").mkdir(parents=True)
    rgb = np.rint(photo_rgb[:48, :64] * 255).astype(np.uint8)
    Image.fromarray(rgb).save(src / "a.png")
    Image.fromarray(rgb[::-1]).save(src / "b" / "photo.jpg", quality=95)
    Image.fromarray((rgb[..., 1].astype(np.uint16) * 257)).save(src / "b" / "deep.tif")
    Image.fromarray(rgb[..., 0]).save(src / "b" / "c" / "grey.bmp")
    (src / "b" / "README.txt").write_text("not an image")
    (src / "b" / "c" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(200))
    return src


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_nested_mixed_formats_mirrored_with_failures(cli, tmp_path, tree, jobs):
    out = tmp_path / "out"
    # one method for both runs: a worker has loaded the compiled loops, a one-off command may
    # find SciPy cheaper, and the two differ in the last float bits (one 16-bit level)
    code, _, err = cli("filter", tree, "-r", "-k", "gaussian:sigma=1.5", "--method", "separable", "-o", out,
                       "--format", "png", "-j", jobs)
    assert code == 3, err
    assert files(out) == ["a.png", "b/c/grey.png", "b/deep.png", "b/photo.png"]
    lines = err.strip().splitlines()
    assert any("broken.png" in line and line.startswith("imgconv: error:") for line in lines), err
    assert any("README.txt" in line and "not an image" in line for line in lines), err
    assert lines[-1].startswith("done 4, skipped 0, failed 1 in ") and lines[-1].endswith("images/s)")
    for rel, src in [("a.png", "a.png"), ("b/photo.png", "b/photo.jpg"), ("b/deep.png", "b/deep.tif"),
                     ("b/c/grey.png", "b/c/grey.bmp")]:
        want = single_run(cli, tree / src, tmp_path / "single.png", "-k", "gaussian:sigma=1.5", "--method",
                          "separable", "--overwrite")
        got = pixels(out / rel)
        assert got.dtype == want.dtype and np.array_equal(got, want), rel
    assert pixels(out / "b" / "deep.png").dtype == np.uint16  # 16-bit stays 16-bit


def test_without_format_each_keeps_its_extension_and_glob_filters(cli, tmp_path, tree):
    out = tmp_path / "out"
    code, _, err = cli("filter", tree, "-r", "-k", "box:size=3", "-o", out, "--glob", "*.[pt]*", "-q", "-j", 1)
    assert code == 3 and "broken.png" in err and "README" not in err  # --glob: no notes about others
    assert files(out) == ["a.png", "b/deep.tif"]
    code, _, err = cli("filter", tree, "-k", "box:size=3", "-o", tmp_path / "flat", "-q", "-j", 1)
    assert code == 0 and files(tmp_path / "flat") == ["a.png"]  # no -r: the top folder only


def test_name_collision_refused_nothing_lost(cli, tmp_path, photo_rgb):
    src = tmp_path / "in"
    src.mkdir()
    img = np.rint(photo_rgb[:30, :40] * 255).astype(np.uint8)
    Image.fromarray(img).save(src / "a.png")
    Image.fromarray(img).save(src / "a.jpg")
    before = {p.name: p.read_bytes() for p in src.iterdir()}
    out = tmp_path / "out"
    code, _, err = cli("filter", src, "-k", "blur", "-o", out, "--format", "png", "-j", 1)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "a.jpg" in err and "a.png" in err and "--format" in err
    assert not out.exists() and {p.name: p.read_bytes() for p in src.iterdir()} == before
    code, _, err = cli("filter", src, "-k", "blur", "-o", out, "-j", 1)  # own extensions: no collision
    assert code == 0 and files(out) == ["a.jpg", "a.png"]
    # written beside the inputs with the same format: an input would be replaced
    code, _, err = cli("filter", src, "-k", "blur", "-o", src, "--format", "jpg", "--glob", "*.jpg")
    assert code == 2 and "overwrite an input" in err and {p.name: p.read_bytes() for p in src.iterdir()} == before


def test_skip_existing_and_overwrite_rules(cli, tmp_path, tree):
    out = tmp_path / "out"
    (out / "b").mkdir(parents=True)
    (out / "b" / "photo.png").write_bytes(b"old")
    args = ["filter", tree, "-r", "-k", "sharpen", "-o", out, "--format", "png", "--glob", "[ap]*", "-j", 1]
    code, _, err = cli(*args)
    assert code == 2 and "b/photo.png" in err and "--skip-existing" in err
    assert files(out) == ["b/photo.png"]  # refused before anything was written
    code, _, err = cli(*args, "--skip-existing")
    assert code == 0 and "done 1, skipped 1, failed 0" in err
    assert (out / "b" / "photo.png").read_bytes() == b"old" and files(out) == ["a.png", "b/photo.png"]
    code, _, err = cli(*args, "--overwrite", "-q")
    assert code == 0 and err == ""
    assert pixels(out / "b" / "photo.png").shape == (48, 64, 3)


def test_summary_and_failures_on_quiet(cli, tmp_path, tree):
    code, _, err = cli("filter", tree, "-r", "-k", "blur", "-o", tmp_path / "out", "-q", "-j", 1)
    assert code == 3
    assert err.strip().splitlines() == [line for line in err.strip().splitlines() if "broken.png" in line]
    assert err.count("\n") == 1  # --quiet: only the failure itself


def test_progress_bar_on_a_terminal(tmp_path, tree):
    pty = pytest.importorskip("pty")
    master, slave = pty.openpty()
    proc = subprocess.Popen(imgconv("filter", tree / "b", "-k", "blur", "-o", tmp_path / "out", "-j", "1",
                                    "--glob", "*.[jt]*"), stderr=slave, stdout=subprocess.DEVNULL)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the other end closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=60)
    os.close(master)
    text = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0, text
    assert "filtering" in text and "2/2" in text and "100%" in text and "images/s" in text, text
    assert "done 2, skipped 0, failed 0" in text


# ---------------------------------------------------------------- interrupts

HEAVY = ["-k", "box:size=41", "--method", "direct"]  # slow per image (direct 41x41), small files
COUNT = 30


@pytest.fixture(scope="module")
def many(tmp_path_factory, photo_rgb):
    src = tmp_path_factory.mktemp("many")
    base = np.rint(photo_rgb[:192, :192] * 255).astype(np.uint8)
    for i in range(COUNT):
        Image.fromarray(np.roll(base, 6 * i, axis=1)).save(src / f"{i:02d}.png")
    return src


def reference(src):
    """The single-run result (computed with the fast method: equal within one grey level)."""
    from imgconv.filtering import filter_image, resolve_kernels
    from imgconv.imageio import read_image, to_integer

    picture = read_image(src)
    result = filter_image(picture, tuple(resolve_kernels(["box:size=41"])), mode="reflect")
    return to_integer(np.asarray(result), 255).astype(np.int32)


def assert_outputs_complete(out, src, names):
    assert not [n for n in files(out) if Path(n).name.startswith(".")], files(out)  # no temporaries
    for name in names:
        got = pixels(out / name).astype(np.int32)  # a truncated file would not decode
        diff = np.abs(got - reference(src / name))
        assert diff.max() <= 1 and (diff == 0).mean() > 0.99, name


def wait_for_outputs(proc, out, count, timeout=180):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if out.is_dir() and len([n for n in out.iterdir() if not n.name.startswith(".")]) >= count:
            return
        if proc.poll() is not None:
            pytest.fail(f"the batch ended before it could be interrupted: {proc.stderr.read()}")
        time.sleep(0.05)
    proc.kill()
    pytest.fail("no outputs appeared")


def interrupt_and_resume(tmp_path, many, signum, extra_inputs=()):
    out = tmp_path / "out"
    proc = subprocess.Popen(imgconv("filter", *extra_inputs, many, *HEAVY, "-o", out, "-j", "2"),
                            stderr=subprocess.PIPE, text=True)
    started = time.monotonic()
    wait_for_outputs(proc, out, 2)
    running = time.monotonic() - started
    sent = time.monotonic()
    proc.send_signal(signum)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("the batch did not stop")
    stop = time.monotonic() - sent
    assert proc.returncode == 130, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("imgconv: interrupted: done ") and "--skip-existing" in lines[0]
    assert stop < 6.0, f"took {stop:.1f} s to stop (ran {running:.1f} s before)"
    written = [n for n in files(out) if not n.startswith(".")]
    assert 2 <= len(written) < COUNT  # stopped well before the end
    assert_outputs_complete(out, many, written)

    resumed = subprocess.run(imgconv("filter", many, *HEAVY, "-o", out, "-j", "2", "--skip-existing"),
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert f"done {COUNT - len(written)}, skipped {len(written)}, failed 0" in resumed.stderr
    assert files(out) == [f"{i:02d}.png" for i in range(COUNT)]
    assert_outputs_complete(out, many, [n for n in files(out) if n not in written])
    return stop


def test_sigint_stops_promptly_without_partial_files_and_resumes(tmp_path, many):
    interrupt_and_resume(tmp_path, many, signal.SIGINT)


def test_sigterm_stops_even_a_stuck_image(tmp_path, many):
    """A worker blocked on an input that never arrives (a FIFO) is stopped too."""
    stuck = tmp_path / "stuck.png"
    os.mkfifo(stuck)
    interrupt_and_resume(tmp_path, many, signal.SIGTERM, extra_inputs=[stuck])


def test_stuck_workers_are_killed_and_their_temporaries_removed(tmp_path):
    jobs = [Job(tmp_path / f"{i}.png", tmp_path / "out" / f"{i}.png") for i in range(6)]
    (tmp_path / "out").mkdir()
    started = [None]

    def interrupt_when_started():
        while not list((tmp_path / "out").glob(".*.tmp")):
            time.sleep(0.05)
        started[0] = time.monotonic()
        os.kill(os.getpid(), signal.SIGTERM)

    timer = threading.Thread(target=interrupt_when_started, daemon=True)
    timer.start()
    summary = run_jobs(jobs, Stubborn(), workers=2)
    stop = time.monotonic() - started[0]
    assert summary.interrupted and summary.done == 0
    assert stop < 6.0
    assert list((tmp_path / "out").iterdir()) == []


def test_a_dead_worker_fails_its_image_and_the_rest_go_on(tmp_path):
    jobs = [Job(tmp_path / f"{i}.png", tmp_path / f"{i}.out") for i in range(8)]
    summary = run_jobs(jobs, DiesOn("3.png"), workers=2)
    failed = [src for src, _ in summary.failed]
    assert str(tmp_path / "3.png") in failed and not summary.interrupted
    assert all("worker process died" in reason for _, reason in summary.failed)
    assert summary.done + len(summary.failed) == 8 and summary.done >= 4
    assert all((tmp_path / f"{i}.out").exists() for i in range(8) if str(tmp_path / f"{i}.png") not in failed)


def test_workers_that_cannot_load_the_task_name_the_cause_once(tmp_path):
    jobs = [Job(tmp_path / f"{i}.png", tmp_path / f"{i}.out") for i in range(8)]
    summary = run_jobs(jobs, Unloadable(), workers=2)
    assert summary.done == 0 and len(summary.failed) == 8 and not summary.interrupted
    assert all('if __name__ == "__main__":' in reason for _, reason in summary.failed)


# ---------------------------------------------------------------- Dask


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, worker_dashboard_address=None) as lc:
        yield lc.scheduler_address


def test_dask_cluster_equals_local_run(tmp_path, tree, cluster, monkeypatch):
    monkeypatch.chdir(tmp_path)  # relative paths: the workers must get absolute ones
    local = subprocess.run(imgconv("filter", "in", "-r", "-k", "unsharp:sigma=1", "-o", "local", "-j", "1",
                                   "--format", "png"), capture_output=True, text=True, timeout=120)
    assert local.returncode == 3, local.stderr
    remote = subprocess.run(imgconv("filter", "in", "-r", "-k", "unsharp:sigma=1", "-o", "remote",
                                    "--format", "png", "--scheduler", cluster),
                            capture_output=True, text=True, timeout=120)
    assert remote.returncode == 3, remote.stderr
    assert "broken.png" in remote.stderr and "done 4, skipped 0, failed 1" in remote.stderr
    assert files(tmp_path / "remote") == files(tmp_path / "local") == \
        ["a.png", "b/c/grey.png", "b/deep.png", "b/photo.png"]
    for name in files(tmp_path / "local"):
        assert np.array_equal(pixels(tmp_path / "remote" / name), pixels(tmp_path / "local" / name)), name


def test_dask_unreachable_scheduler_is_one_clear_error(tmp_path):
    pytest.importorskip("distributed")
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    jobs = [Job(tmp_path / "a.png", tmp_path / "b.png")]
    started = time.monotonic()
    with pytest.raises(ImgconvError, match=f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}"):
        run_jobs(jobs, print, scheduler=f"tcp://127.0.0.1:{port}", connect_timeout=1)
    assert time.monotonic() - started < 15


def test_dask_missing_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if imgconv[dask] were not installed
    with pytest.raises(ImgconvError, match=r"pip install 'imgconv\[dask\]'"):
        run_jobs([Job(tmp_path / "a.png", tmp_path / "b.png")], print, scheduler="tcp://127.0.0.1:8786")


def test_plan_refuses_stdout_for_many(tmp_path, tree):
    with pytest.raises(ImgconvError, match="stdout"):
        plan_jobs([tree], suffix="x", output="-", recursive=True)
