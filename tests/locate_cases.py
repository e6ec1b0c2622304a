"""Reproducible test cases for ``imgconv.locate``: objects cut from one real photograph,
turned by any angle and scaled by 0.7-1.4 into another, with noise and a brightness and
contrast change.  Shared by ``tests/test_locate.py`` and ``benchmarks/bench_locate.py``.

``make_case(rng, photos)`` returns a :class:`Case`: the scene (grey float32 [0, 1]), the
template (the object as cut, unchanged) and the truth: the template centre's position in
the scene (``cx, cy``, sub-pixel), the angle (degrees, counter-clockwise on screen) and the
scale.  The object is resampled with a cubic spline (after a Gaussian anti-alias blur when
shrunk) and blended in with an anti-aliased edge.
"""
import dataclasses
import math
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_FILES = ("coffee.png", "camera.png", "rocket.jpg", "chelsea_rgba.png", "astronaut16.png")
SKIMAGE_FILES = ("astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg", "camera.png",
                 "motorcycle_left.png", "brick.png", "grass.png", "gravel.png", "color.png",
                 "ihc.png", "hubble_deep_field.jpg", "retina.jpg", "page.png", "coins.png")


@dataclasses.dataclass
class Case:
    scene: np.ndarray
    template: np.ndarray
    cx: float
    cy: float
    angle: float
    scale: float


def grey(rgb):
    rgb = np.asarray(rgb, np.float32)
    if rgb.ndim == 2:
        return rgb
    return (rgb[..., :3] @ np.array([0.299, 0.587, 0.114], np.float32)).astype(np.float32)


def sample_photos():
    """The real photographs in samples/ (grey float32 [0, 1])."""
    from PIL import Image

    out = []
    for name in SAMPLE_FILES:
        path = ROOT / "samples" / name
        if path.exists():
            picture = Image.open(path)
            values = np.asarray(picture.convert("RGB" if picture.mode != "L" else "L"), np.float32) / 255
            out.append(grey(values))
    return out


def skimage_photos():
    """scikit-image's bundled photographs (grey float32 [0, 1]); falls back to samples/."""
    try:
        import os

        import skimage.data
        from PIL import Image
    except ImportError:
        return sample_photos()
    folder = os.path.dirname(skimage.data.__file__)
    out = []
    for name in SKIMAGE_FILES:
        path = os.path.join(folder, name)
        if os.path.exists(path):
            picture = Image.open(path)
            out.append(grey(np.asarray(picture.convert("L"), np.float32) / 255))
    return out or sample_photos()


def textured(patch, minimum=3e-4):
    """Detail in two directions, so that angle and scale are defined: the mean smaller
    eigenvalue of the local structure tensor (gradients smoothed over sigma 1.5 px) is at
    least ``minimum`` (a plain edge or a flat patch cannot be located in angle and scale;
    about 45 % of random 48 px patches of the samples pass)."""
    from scipy import ndimage

    gy, gx = np.gradient(np.asarray(patch, np.float64))
    jxx = ndimage.gaussian_filter(gx * gx, 1.5)
    jyy = ndimage.gaussian_filter(gy * gy, 1.5)
    jxy = ndimage.gaussian_filter(gx * gy, 1.5)
    smaller = (jxx + jyy - np.sqrt((jxx - jyy) ** 2 + 4 * jxy * jxy)) / 2
    return patch.std() > 0.05 and smaller.mean() > minimum


def warp_into(scene, source, centre_src, centre_dst, angle, scale, half, alpha=1.0):
    """Paste the source's square (side ``2 * half`` px about ``centre_src``) into the scene,
    turned ``angle`` degrees counter-clockwise on screen and ``scale`` times as large,
    centred on ``centre_dst``; returns the new scene."""
    from scipy import ndimage

    src = source
    if scale < 1:
        src = ndimage.gaussian_filter(source, 0.5 * math.sqrt(1 / scale ** 2 - 1))
    coefficients = ndimage.spline_filter(src.astype(np.float64), order=3)
    reach = math.ceil(half * scale * math.sqrt(2)) + 2
    cyd, cxd = centre_dst
    ys = np.arange(int(cyd) - reach, int(cyd) + reach + 2)
    xs = np.arange(int(cxd) - reach, int(cxd) + reach + 2)
    ys = ys[(ys >= 0) & (ys < scene.shape[0])]
    xs = xs[(xs >= 0) & (xs < scene.shape[1])]
    V, U = np.meshgrid(ys - cyd, xs - cxd, indexing="ij")
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    dx = (c * U - s * V) / scale
    dy = (s * U + c * V) / scale
    values = ndimage.map_coordinates(coefficients, [centre_src[0] + dy, centre_src[1] + dx],
                                     order=3, prefilter=False, mode="nearest")
    # anti-aliased square outline: coverage falls from 1 to 0 over one scene pixel
    edge = half - np.maximum(np.abs(dx), np.abs(dy))
    cover = np.clip(edge * scale + 0.5, 0, 1) * alpha
    out = scene.copy()
    region = out[np.ix_(ys, xs)]
    out[np.ix_(ys, xs)] = region * (1 - cover) + values * cover
    return out


def fit(photo, shape, rng):
    """The photograph cut (at a random place) or tiled (mirrored) to ``shape``; a copy."""
    if shape is None:
        return photo.copy()
    H, W = shape
    out = photo
    if out.shape[0] < H or out.shape[1] < W:
        reps = (math.ceil(H / out.shape[0]), math.ceil(W / out.shape[1]))
        out = np.pad(out, [(0, (reps[0] - 1) * out.shape[0]), (0, (reps[1] - 1) * out.shape[1])],
                     mode="symmetric")
    y = int(rng.integers(0, out.shape[0] - H + 1))
    x = int(rng.integers(0, out.shape[1] - W + 1))
    return out[y:y + H, x:x + W].copy()


def make_case(rng, photos, size=None, scene_shape=None, noise=(0.01, 0.03),
              scales=(0.7, 1.4), angles=(-180.0, 180.0)):
    """One case: an object (``size`` px square, default 40-64) cut from one photograph,
    pasted into another (or the same, elsewhere), turned, scaled, noisy, gain and offset changed."""
    side = int(size or rng.integers(40, 65))
    while True:
        source = int(rng.integers(len(photos)))
        a = photos[source]
        if min(a.shape) < side + 8:
            continue
        y = int(rng.integers(2, a.shape[0] - side - 2))
        x = int(rng.integers(2, a.shape[1] - side - 2))
        template = a[y:y + side, x:x + side].copy()
        if textured(template):
            break
    # another photograph: the object's original stays where it was in its own
    others = [k for k in range(len(photos)) if k != source] or [source]
    b = fit(photos[others[int(rng.integers(len(others)))]], scene_shape, rng)
    angle = float(rng.uniform(*angles))
    scale = float(math.exp(rng.uniform(math.log(scales[0]), math.log(scales[1]))))
    reach = side * scale * math.sqrt(2) / 2 + 3
    cy = float(rng.uniform(reach, b.shape[0] - reach))
    cx = float(rng.uniform(reach, b.shape[1] - reach))
    centre_src = (y + (side - 1) / 2, x + (side - 1) / 2)
    gain, offset = float(rng.uniform(0.7, 1.3)), float(rng.uniform(-0.1, 0.1))
    source = np.clip(a * gain + offset, 0, 1)
    scene = warp_into(b, source, centre_src, (cy, cx), angle, scale, side / 2)
    scene = scene + rng.normal(0, rng.uniform(*noise), scene.shape)
    scene = np.clip(scene, 0, 1).astype(np.float32)
    return Case(scene, template, cx, cy, angle, scale)


def make_absent(rng, photos, size=None, scene_shape=None):
    """A template from one photograph and a scene (another photograph) that does not hold it."""
    if len(photos) < 2:
        raise ValueError("absent cases need two photographs")
    side = int(size or rng.integers(40, 65))
    while True:  # a photograph with no textured patch (a smooth one) is passed over, as make_case does
        order = rng.permutation(len(photos))
        a, b = photos[order[0]], photos[order[1]]
        if min(a.shape) < side + 8:
            continue
        y = int(rng.integers(2, a.shape[0] - side - 2))
        x = int(rng.integers(2, a.shape[1] - side - 2))
        template = a[y:y + side, x:x + side].copy()
        if textured(template):
            break
    scene = fit(b, scene_shape, rng)
    scene = np.clip(scene + rng.normal(0, 0.02, scene.shape), 0, 1).astype(np.float32)
    return scene, template


def errors(match, case):
    """(position error px, angle error degrees, relative scale error) of a match."""
    d = math.hypot(match.cx - case.cx, match.cy - case.cy)
    da = abs((match.angle - case.angle + 180) % 360 - 180)
    ds = abs(match.scale / case.scale - 1)
    return d, da, ds
