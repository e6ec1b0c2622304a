"""The words the library and the command line share: one NumPy-free list of each choice.

Examples
--------
>>> MODES[0], METHODS[0], ALPHA_MODES[0], NAN_MODES[0], parse_depth("16"), parse_depth(None)
('reflect', 'auto', 'auto', 'propagate', 16, None)
"""

#: How an image is extended past its border (scipy.ndimage's meanings).
MODES = ("reflect", "mirror", "nearest", "wrap", "constant")
#: Convolution methods; ``auto`` asks the cost model.
METHODS = ("auto", "direct", "separable", "fft")
#: Which channels are filtered: every colour channel, grey (ITU-R 601-2), or Y of YCbCr.
CHANNELS = ("all", "gray", "luma")
#: Output bit depths, as written on the command line.
DEPTHS = ("8", "16", "float")
#: Deconvolution methods.
DECONVOLUTION_METHODS = ("wiener", "richardson-lucy")
#: What happens to alpha: premultiply for averaging kernels (auto), always, or never (keep).
ALPHA_MODES = ("auto", "premultiply", "keep")
#: Missing pixels (NaN, or invalid in a --valid mask): spread as SciPy does, or filled
#: by normalised convolution.
NAN_MODES = ("propagate", "ignore")
#: Which frames of an animation or pages of a multi-page TIFF are processed.
FRAMES = ("all", "first")


def parse_depth(depth):
    """An output depth as the library takes it: 8, 16, ``"float"`` or None (the input's).

    Accepts the command-line words of :data:`DEPTHS` and the library's values alike.
    """
    if depth is None or depth == "float":
        return depth
    if str(depth) in DEPTHS:
        return int(depth)
    raise ValueError(f"unknown depth {depth!r} (choose from {', '.join(DEPTHS)})")
