#!/usr/bin/env python3
"""Regenerate docs/gallery.png: what each preset does to samples/coffee.png, made by imgconv.

    python docs/make_gallery.py
"""
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

import imgconv
import imgconv.settings

ROOT = Path(__file__).resolve().parent.parent
PRESETS = ["identity", "blur", "box:size=9", "gaussian:sigma=3", "sharpen", "unsharp:sigma=2,amount=2",
           "edge", "laplacian", "log:sigma=2", "sobel", "sobel:direction=x", "prewitt", "scharr",
           "emboss", "motion:length=25,angle=30", "disc:radius=6"]
# zero-mean kernels give signed results: show them around mid grey or magnified
DISPLAY = {"edge": (1, 0), "laplacian": (4, 0.5), "log:sigma=2": (40, 0.5), "sobel:direction=x": (1, 0.5)}


def main():
    # one code path whatever is installed (SciPy's, one thread): the figure is byte-identical
    # on every run and machine
    with imgconv.settings.use(compiled=False, threads=1):
        sheet = make_sheet()
    dest = ROOT / "docs" / "gallery.png"
    imgconv.write_image(dest, np.asarray(sheet, np.float32) / 255)
    print("wrote", dest)


def make_sheet():
    photo = imgconv.read_image(ROOT / "samples" / "coffee.png")
    small = photo.pixels[::2, ::2]  # 300 x 200 tiles
    h, w = small.shape[:2]
    cols = 4
    rows = -(-len(PRESETS) // cols)
    sheet = Image.new("RGB", (cols * w, rows * (h + 18)), "white")
    draw = ImageDraw.Draw(sheet)
    for i, spec in enumerate(PRESETS):
        scale, offset = DISPLAY.get(spec, (1, 0))
        out = imgconv.filter_image(small, [spec], scale=scale, offset=offset)
        tile = Image.fromarray(np.clip(np.rint(out * 255), 0, 255).astype(np.uint8))
        x, y = (i % cols) * w, (i // cols) * (h + 18)
        sheet.paste(tile, (x, y + 18))
        label = spec + (f"  (x{scale}, +{offset})" if spec in DISPLAY else "")
        draw.text((x + 4, y + 3), label, fill="black")
    return sheet


if __name__ == "__main__":
    main()
