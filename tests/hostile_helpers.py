"""Helpers shared by the hostile-input tests (``test_hostile.py``, ``test_hostile_io.py``): folder
snapshots, the one-line refusal contract, and ``python -m imgconv`` in a measured subprocess.

The tests folder is on ``sys.path`` (conftest.py), so test modules import this by name.
"""
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image


def snapshot(folder):
    """Every file under ``folder`` (hidden ones too) -> sha256 of its bytes."""
    folder = Path(folder)
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_fifo()}


def assert_refused(code, err, name, expected=2, before=None, folder=None):
    """The contract for a bad input: exit code, one ``imgconv: error:`` line naming ``name``,
    no traceback, and (given ``before``) ``folder`` unchanged."""
    lines = err.strip().splitlines()
    assert code == expected, err
    assert "Traceback" not in err
    assert len(lines) == 1, err
    assert lines[0].startswith("imgconv: error: "), err
    assert name in lines[0], err
    if before is not None:
        assert snapshot(folder) == before


@dataclass
class Result:
    code: int
    out: bytes
    err: str
    seconds: float
    peak_mib: float  # the process's own peak resident memory (VmHWM); 0 where unknown


# Runs ``python -m imgconv`` and, at exit, writes the process's peak resident memory.
# VmHWM belongs to the program after exec; getrusage's ru_maxrss would also count the
# memory of the forked test process.
_MEASURED = """
import atexit, os, runpy, sys

def report():
    try:
        with open("/proc/self/status") as status:
            peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        peak = "0"
    with open(os.environ["IMGCONV_TEST_PEAK"], "w") as out:
        out.write(peak)

atexit.register(report)
sys.argv[0] = "imgconv"
runpy.run_module("imgconv", run_name="__main__", alter_sys=True)
"""


def sh(*args, timeout=60, stdout=None):
    """``python -m imgconv ARGS`` in a subprocess: exit code, output, seconds and peak memory."""
    with tempfile.TemporaryDirectory() as scratch:
        peak_file = os.path.join(scratch, "peak")
        env = dict(os.environ, IMGCONV_TEST_PEAK=peak_file)
        start = time.perf_counter()
        try:
            done = subprocess.run([sys.executable, "-c", _MEASURED, *map(str, args)], env=env,
                                  stdin=subprocess.DEVNULL, stdout=stdout or subprocess.PIPE,
                                  stderr=subprocess.PIPE, timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"imgconv {' '.join(map(str, args))} hung for {timeout} s")
        seconds = time.perf_counter() - start
        peak = Path(peak_file).read_text() if os.path.exists(peak_file) else "0"
    return Result(done.returncode, done.stdout or b"", done.stderr.decode(errors="replace"), seconds,
                  int(peak) / 1024)


def save_png(path, array, mode=None):
    Image.fromarray(array, mode).save(path)
    return path
