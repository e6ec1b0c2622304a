"""Shared fixtures: real photographs (from samples/ when present, else scikit-image's data)."""
import os
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
# `python -m imgconv` in subprocesses must import the installed package, not the checkout
# beside the current folder
os.environ["PYTHONSAFEPATH"] = "1"
# every Python the suite starts (the CLI, its workers) turns warnings into errors: the CLI must never
# show a Python warning, so one that surfaces fails the test that met it
os.environ["PYTHONWARNINGS"] = "error"
# helper modules of the tests (tasks that worker processes import by name); appended, so the
# installed imgconv still comes first
if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.append(str(Path(__file__).resolve().parent))
SAMPLES = ROOT / "samples"


def _photo_rgb():
    from PIL import Image

    for name in ("coffee.png", "astronaut.png", "chelsea.png"):
        p = SAMPLES / name
        if p.exists():
            return np.asarray(Image.open(p).convert("RGB"), np.float32) / 255
    skdata = pytest.importorskip("skimage.data")
    return skdata.coffee().astype(np.float32) / 255


@pytest.fixture(scope="session")
def photo_rgb():
    """A real colour photograph, float32 in [0, 1], H x W x 3."""
    return _photo_rgb()


@pytest.fixture(scope="session")
def photo_grey(photo_rgb):
    """The same photograph in grey (ITU-R 601-2 luma), float32 in [0, 1]."""
    return (photo_rgb @ np.array([0.299, 0.587, 0.114], np.float32)).astype(np.float32)


@pytest.fixture
def cli(capsys):
    """Run the CLI in-process: ``cli("filter", ...)`` returns (exit code, stdout, stderr).

    Python warnings are errors inside: one that the CLI lets happen makes it fail (exit 70 or a
    per-file internal error), as the CLI must never show a warning.
    """
    import warnings

    from imgconv.cli import run

    def invoke(*args):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with pytest.raises(SystemExit) as exc:
                run([str(a) for a in args])
        out, err = capsys.readouterr()
        return exc.value.code, out, err
    return invoke
