"""Collection rules for the doctests of the package (pytest --doctest-modules)."""
import importlib.util

# the compiled loops import numba at module level: without the optional extra, skip them
collect_ignore = [] if importlib.util.find_spec("numba") else ["imgconv/engine/_loops.py"]
