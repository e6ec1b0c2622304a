"""imgconv: fast, exact image filtering, template matching and deconvolution.

The public API is imported lazily so that ``import imgconv`` (and the CLI's
``--help``) stays fast; SciPy is loaded only when a function needs it.

Examples
--------
>>> import numpy as np, imgconv
>>> img = np.zeros((5, 5), np.float32); img[2, 2] = 1
>>> imgconv.convolve(img, np.ones((3, 3)) / 9, mode="constant")[1:4, 1:4].round(3)
array([[0.111, 0.111, 0.111],
       [0.111, 0.111, 0.111],
       [0.111, 0.111, 0.111]], dtype=float32)
"""

__version__ = "0.1.0"

_API = {
    "convolve": "imgconv.engine",
    "explain": "imgconv.engine",
    "Kernel": "imgconv.kernels",
    "load_kernel": "imgconv.kernels",
    "list_presets": "imgconv.kernels",
    "filter_image": "imgconv.filtering",
    "read_image": "imgconv.imageio",
    "write_image": "imgconv.imageio",
    "Picture": "imgconv.imageio",
    "read_volume": "imgconv.imageio.volume",
    "write_volume": "imgconv.imageio.volume",
    "filter_volume": "imgconv.volume_filter",
    "match_template": "imgconv.match",
    "find_matches": "imgconv.match",
    "match_multiscale": "imgconv.match",
    "Match": "imgconv.match",
    "prepare_match": "imgconv.match",
    "locate": "imgconv.locate",
    "deconvolve": "imgconv.deconvolve",
    "frequency_response": "imgconv.response",
    "response_summary": "imgconv.response",
    "estimate_kernel": "imgconv.estimate",
    "kernel_fit": "imgconv.estimate",
    "save_kernel": "imgconv.kernel_writer",
    "plot_kernel": "imgconv.plot",
    "ImgconvError": "imgconv.errors",
    "EngineError": "imgconv.errors",
    "KernelError": "imgconv.errors",
    "ImageReadError": "imgconv.errors",
    "ImageWriteError": "imgconv.errors",
    "MatchError": "imgconv.errors",
}

__all__ = sorted(_API)


def __getattr__(name):
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'imgconv' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_API))
