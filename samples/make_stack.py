"""Make ``samples/stack.tif``: a through-focus z-stack of a real photograph (see SOURCES.md).

The photograph ``camera.png`` (CC0), halved twice to 128 x 128 by 2 x 2 means, is a thin
flat specimen in the focal plane of a widefield microscope; each of the 24 planes is what
the camera sees with the focus moved by ``z - 12`` steps: the photograph blurred by a
Gaussian whose width grows with the defocus, ``sigma = 0.6 + 0.45 * |z - 12|`` pixels
(``scipy.ndimage.gaussian_filter``, reflect borders). That is the photograph convolved with
a depth-dependent 3-D PSF. Stored as a 16-bit ImageJ hyperstack (axes ZYX) with a voxel
size of 0.5 um in Z and 0.1 um in X and Y. Deterministic: no noise, no randomness.

Run from the repository root: ``python samples/make_stack.py`` (needs NumPy, SciPy,
Pillow and imgconv, no network).
"""

from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

HERE = Path(__file__).resolve().parent
PLANES, FOCUS = 24, 12
SPACING = (0.5, 0.1, 0.1)  # um: z, y, x


def halve(pixels):
    """Downscale by 2 with the mean of each 2 x 2 block."""
    h, w = pixels.shape[0] // 2 * 2, pixels.shape[1] // 2 * 2
    p = pixels[:h, :w]
    return (p[0::2, 0::2] + p[1::2, 0::2] + p[0::2, 1::2] + p[1::2, 1::2]) / 4


def through_focus(photo, planes=PLANES, focus=FOCUS, base=0.6, growth=0.45):
    """A Z x Y x X float32 stack: ``photo`` blurred by ``sigma = base + growth * |z - focus|`` in plane z."""
    stack = np.empty((planes,) + photo.shape, np.float32)
    for z in range(planes):
        stack[z] = ndimage.gaussian_filter(photo, base + growth * abs(z - focus), mode="reflect")
    return stack


def camera(scale_steps=2):
    """``camera.png`` as float64 in [0, 1], halved ``scale_steps`` times."""
    photo = np.asarray(Image.open(HERE / "camera.png").convert("L"), np.float64) / 255
    for _ in range(scale_steps):
        photo = halve(photo)
    return photo


def main():
    from imgconv.imageio.volume import write_volume

    write_volume(HERE / "stack.tif", through_focus(camera()), depth=16, spacing=SPACING, unit="um")


if __name__ == "__main__":
    main()
