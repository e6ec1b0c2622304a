"""Rebuild the sample pictures from scikit-image's bundled data (see SOURCES.md).

Run from the repository root with scikit-image installed:
``python samples/make_samples.py``.  Only public-domain and CC0 pictures are used.
"""

from pathlib import Path

import numpy as np
import skimage.data
from PIL import Image

from imgconv.imageio import write_image

HERE = Path(__file__).resolve().parent
DATA = Path(skimage.data.__file__).resolve().parent

# Where the template is cut from the scene (top-left x, y and width, height).
TEMPLATE_BOX = (66, 170, 40, 44)


def halve(pixels):
    """Downscale by 2 with the mean of each 2 x 2 block, in float64."""
    height, width = pixels.shape[0] // 2 * 2, pixels.shape[1] // 2 * 2
    pixels = pixels[:height, :width].astype(np.float64)
    return (pixels[0::2, 0::2] + pixels[1::2, 0::2] + pixels[0::2, 1::2] + pixels[1::2, 1::2]) / 4


def main():
    Image.open(DATA / "coffee.png").save(HERE / "coffee.png", optimize=True)
    Image.open(DATA / "camera.png").save(HERE / "camera.png", optimize=True)
    (HERE / "rocket.jpg").write_bytes((DATA / "rocket.jpg").read_bytes())

    # Chelsea the cat with a soft elliptical alpha (opaque centre, transparent corners).
    cat = np.asarray(Image.open(DATA / "chelsea.png").convert("RGB"))
    height, width = cat.shape[:2]
    y, x = np.mgrid[0:height, 0:width]
    radius = np.hypot((x - width / 2) / (width * 0.45), (y - height / 2) / (height * 0.45))
    alpha = np.clip((1.15 - radius) / 0.3, 0, 1)
    alpha = np.rint(alpha * 255).astype(np.uint8)
    Image.fromarray(np.dstack([cat, alpha])).save(HERE / "chelsea_rgba.png", optimize=True)

    # The astronaut, halved by 2 x 2 averaging in float: 16-bit and 8-bit versions.
    astronaut = halve(np.asarray(Image.open(DATA / "astronaut.png").convert("RGB")) / 255.0)
    write_image(HERE / "astronaut16.png", astronaut, depth=16)
    write_image(HERE / "scene.png", astronaut, depth=8)
    x0, y0, w, h = TEMPLATE_BOX
    write_image(HERE / "template.png", astronaut[y0:y0 + h, x0:x0 + w], depth=8)


if __name__ == "__main__":
    main()
