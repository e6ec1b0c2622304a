"""The compiled loops' first use: numba's cache found as numba finds it, a command on an empty cache
served by SciPy while one detached process compiles, the planner told which of the two it pays."""
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from imgconv import loopcache
from imgconv.settings import COMPILE_MS, LOAD_MS, numba_installed, use

needs_numba = pytest.mark.skipif(not numba_installed(), reason="numba not installed")


def python(code, env):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)


@needs_numba
def test_cache_folder_is_numbas_own_choice():
    from imgconv.engine import _loops, _loops3d

    assert str(loopcache.cache_dir()) == _loops._direct_rows.stats.cache_path == _loops3d._z_rows.stats.cache_path
    assert loopcache.loops_cached()  # importing them all marked them


@needs_numba
def test_only_all_the_loops_mark_the_cache(tmp_path):
    """The 2-D loops alone leave no marker (a volume would still compile); the 3-D loops, which
    import them, do."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    check = "from imgconv import loopcache\nprint(loopcache.loops_cached())"
    assert python("from imgconv.engine import _loops\n" + check, env).stdout.split() == ["False"]
    assert python("from imgconv.engine import _loops3d\n" + check, env).stdout.split() == ["True"]


@needs_numba
def test_cache_folder_follows_numba_cache_dir(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    r = python("from imgconv import loopcache; from imgconv.engine import _loops\n"
               "print(loopcache.cache_dir()); print(_loops._direct_rows.stats.cache_path)", env)
    ours, numbas = r.stdout.split()
    assert ours == numbas and ours.startswith(str(tmp_path))


@needs_numba
def test_first_command_uses_scipy_and_compiles_in_the_background(tmp_path, photo_rgb):
    """An empty cache: the command charges the compilation (SciPy serves it), one detached process
    fills the cache, and the next command is charged the load only."""
    from PIL import Image

    photo = tmp_path / "photo.png"
    Image.fromarray(np.rint(np.tile(photo_rgb, (3, 3, 1)) * 255).astype(np.uint8)).save(photo)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    cost = "from imgconv.loopcache import loop_cost_ms; print(loop_cost_ms())"
    assert float(python(cost, env).stdout) == COMPILE_MS
    r = subprocess.run([sys.executable, "-m", "imgconv", "filter", photo, "-k", "disc:radius=4",
                        "-o", tmp_path / "a.png", "--explain"], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "; compiled loops)" not in r.stderr  # never compiled in the foreground
    deadline = time.monotonic() + 240
    while float(python(cost, env).stdout) != LOAD_MS and time.monotonic() < deadline:
        time.sleep(0.5)
    assert float(python(cost, env).stdout) == LOAD_MS
    folder = next((tmp_path / "cache").iterdir())
    assert (folder / loopcache.marker_name()).is_file()
    for _ in range(100):  # the warming process removes its lock as it exits
        if not list(folder.glob("*.lock")):
            break
        time.sleep(0.1)
    assert not list(folder.glob("*.lock"))


def test_one_warming_process_at_a_time(tmp_path, monkeypatch):
    monkeypatch.setattr(loopcache, "cache_dir", lambda: tmp_path)
    spawned = []
    monkeypatch.setattr(loopcache, "_spawn_detached", spawned.append)
    lock = tmp_path / (loopcache.marker_name()[:-3] + ".lock")
    with use(compiled=True):
        if not numba_installed():
            pytest.skip("numba not installed")
        assert loopcache.warm_in_background() and len(spawned) == 1 and lock.is_file()
        assert not loopcache.warm_in_background() and len(spawned) == 1  # the first still runs
        old = time.time() - loopcache.STALE_LOCK_SECONDS - 5
        os.utime(lock, (old, old))  # its process died long ago: replaced
        assert loopcache.warm_in_background() and len(spawned) == 2
        lock.unlink()
        (tmp_path / loopcache.marker_name()).write_text("cached")
        assert not loopcache.warm_in_background() and len(spawned) == 2  # nothing to do
    lock.unlink(missing_ok=True)
    (tmp_path / loopcache.marker_name()).unlink()
    with use(compiled=False):
        assert not loopcache.warm_in_background() and not lock.exists()


def test_no_numba_means_no_loop_cost_and_no_warming(tmp_path):
    env = dict(os.environ, IMGCONV_NO_NUMBA="1", NUMBA_CACHE_DIR=str(tmp_path))
    r = python("from imgconv.cli import run\nimport sys\n"
               "try: run(['kernels'])\nexcept SystemExit: pass\n"
               "from imgconv import loopcache; print(loopcache.warm_in_background())", env)
    assert r.stdout.strip().endswith("False") and not any(tmp_path.rglob("*.lock"))


def test_planner_says_what_the_first_use_costs():
    import imgconv

    small = (40, 60, 3)
    with use(compiled=True, load_ms=COMPILE_MS):
        plan = imgconv.explain(small, np.ones((3, 3)))
    if plan.loops_allowed:
        assert not plan.compiled and "compiling (numba's cache is empty)" in str(plan) and "3000 ms" in str(plan)
    with use(compiled=True, load_ms=LOAD_MS):
        plan = imgconv.explain(small, np.ones((3, 3)))
    if plan.loops_allowed:
        assert f"cheaper here than loading the compiled loops, {LOAD_MS:.0f} ms" in str(plan)


def test_warm_up_never_compiles_for_a_command_on_an_empty_cache():
    from imgconv.engine import warm_up

    with use(load_ms=COMPILE_MS):
        assert not warm_up()
    with use(load_ms=LOAD_MS):
        assert warm_up() == numba_installed()
