"""The suite tests the installed package: every module's doctests run from it, and in CI it is
the non-editable install, not the checkout (so a wheel missing a file fails)."""
import doctest
import importlib
import os
import pkgutil
from pathlib import Path

import pytest

import imgconv

ROOT = Path(__file__).resolve().parent.parent


def _modules():
    return sorted(m.name for m in pkgutil.walk_packages(imgconv.__path__, "imgconv.") if m.name != "imgconv.__main__")


@pytest.mark.parametrize("name", ["imgconv", *_modules()])
def test_doctests(name):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(module, name, globs=vars(module).copy()):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} doctest example(s) failed in {name}"


@pytest.mark.skipif(os.environ.get("CI") != "true", reason="CI tests the installed wheel; a checkout may be editable")
def test_ci_imports_the_installed_package_not_the_checkout():
    where = Path(imgconv.__file__).resolve()
    assert not where.is_relative_to(ROOT / "imgconv"), f"imgconv imported from the checkout ({where}), not the wheel"
    assert (where.parent / "presets").is_dir(), "the wheel lacks its presets"
