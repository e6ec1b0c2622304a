"""Planning depends only on its arguments and the explicit settings, never on history."""
import numpy as np
import pytest

import imgconv
from imgconv.settings import LOAD_MS, Settings, current, use

DENSE9 = np.random.default_rng(0).random((9, 9))


def test_explain_is_the_same_before_and_after_a_cli_run(cli, tmp_path):
    before = imgconv.explain((600, 800, 3), DENSE9)
    image = tmp_path / "a.png"
    from PIL import Image

    Image.new("RGB", (40, 30), "red").save(image)
    for args in (["kernels"], ["filter", image, "-k", "sharpen", "-q"], ["filter", image, "-k", "gaussian:sigma=1", "-q"]):
        code, _, _ = cli(*args)
        assert code == 0
        after = imgconv.explain((600, 800, 3), DENSE9)
        assert (after.method, after.compiled, after.costs) == (before.method, before.compiled, before.costs)


def test_many_convolutions_do_not_change_the_plan(photo_rgb):
    with use(load_ms=LOAD_MS):
        first = imgconv.explain(photo_rgb.shape, DENSE9)
        for _ in range(5):
            imgconv.convolve(photo_rgb[:50, :50], DENSE9)
        assert imgconv.explain(photo_rgb.shape, DENSE9) == first


def test_the_one_off_load_cost_is_charged_only_when_asked():
    library = imgconv.explain((600, 800, 3), DENSE9)
    with use(load_ms=LOAD_MS, compiled=True):
        one_off = imgconv.explain((600, 800, 3), DENSE9)
    if current().compiled:
        assert library.compiled
        assert min(one_off.costs.values()) >= min(library.costs.values())


def test_settings_are_immutable_and_restored():
    outer = current()
    with pytest.raises(AttributeError):
        outer.threads = 7
    with use(threads=1, compiled=False) as inner:
        assert inner.threads == 1 and not inner.compiled and current() is inner
        assert not imgconv.explain((100, 100), DENSE9).compiled
    assert current() is outer


def test_settings_are_validated():
    assert Settings(threads=0).threads == 1
    assert Settings(load_ms=-5).load_ms == 0.0


def test_a_chain_pays_for_one_load_not_one_per_kernel():
    from imgconv.engine.oneoff import loops_pay
    from imgconv.filtering import explain_filter, resolve_kernels

    dense = [np.random.default_rng(i).random((9, 9)) for i in range(8)]
    shape = (2160, 3840, 3)
    with use(load_ms=LOAD_MS, compiled=True):
        if not current().compiled:
            pytest.skip("numba not installed")
        alone = imgconv.explain(shape, dense[0])
        assert not alone.compiled  # one kernel alone: NumPy beats the loops plus their load
        assert not loops_pay(shape, dense[:1]) and loops_pay(shape, dense)
        lines = explain_filter(shape, resolve_kernels(dense))
        assert len(lines) == 8 and all(line.endswith("; compiled loops)") for line in lines)
        assert loops_pay(shape, dense[:1], repeat=60)  # an iterative method: 60 uses, one load
    with use(load_ms=0.0):
        assert not loops_pay(shape, dense)  # loaded already: nothing to decide
