#!/usr/bin/env python3
"""Regenerate docs/alpha.png and docs/linear.png, the README's figures for the pixel options.

Every filtered picture is made by the ``imgconv filter`` command itself; this script only
draws the inputs, composites the results over a checker pattern and lays out the panels.

    python docs/make_pixel_figures.py
"""
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parent.parent
LABEL = 26  # pixels of caption above each panel


def imgconv(*args):
    subprocess.run([sys.executable, "-m", "imgconv", *map(str, args), "-q", "--overwrite"], check=True)


def rgba(path):
    return np.asarray(Image.open(path).convert("RGBA"), np.float32) / 255


def logo(size=200):
    """A white ring and an orange disc with white text, on transparent *black*: the colour
    that ``--alpha keep`` lets bleed into the visible pixels."""
    im = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(im)
    c = size // 2
    draw.ellipse((c - 88, c - 88, c + 88, c + 88), outline=(255, 255, 255, 255), width=14)
    draw.ellipse((c - 58, c - 58, c + 58, c + 58), fill=(255, 140, 0, 255))
    font = ImageFont.load_default(size=30)
    draw.text((c, c), "img", fill=(255, 255, 255, 255), font=font, anchor="mm")
    return im


def checker(h, w, tile=10, light=0.85, dark=0.35):
    yy, xx = np.mgrid[:h, :w]
    return np.where(((yy // tile) + (xx // tile)) % 2 == 0, light, dark).astype(np.float32)[..., None]


def over_checker(pixels):
    h, w = pixels.shape[:2]
    a = pixels[..., 3:]
    return pixels[..., :3] * a + checker(h, w) * (1 - a)


def sheet(panels, captions):
    """Panels (H x W x 3 float) side by side with a caption above each."""
    h, w = panels[0].shape[:2]
    gap = 8
    out = Image.new("RGB", (len(panels) * (w + gap) - gap, h + LABEL), "white")
    draw = ImageDraw.Draw(out)
    font = ImageFont.load_default(size=15)
    for i, (panel, caption) in enumerate(zip(panels, captions)):
        x = i * (w + gap)
        out.paste(Image.fromarray(np.clip(np.rint(panel * 255), 0, 255).astype(np.uint8)), (x, LABEL))
        draw.text((x + 2, 4), caption, fill="black", font=font)
    return out


def alpha_figure(work):
    src = work / "logo.png"
    logo().save(src)
    for mode in ("keep", "premultiply"):
        imgconv("filter", src, "-k", "gaussian:sigma=4", "--alpha", mode, "-o", work / f"{mode}.png")
    panels = [over_checker(rgba(work / name)) for name in ("logo.png", "keep.png", "premultiply.png")]
    return sheet(panels, ["transparent logo", "gaussian:sigma=4 --alpha keep",
                          "--alpha premultiply (auto)"])


def linear_figure(work):
    h, w = 200, 300
    yy, xx = np.mgrid[:h, :w]
    board = ((yy + xx) % 2 * 255).astype(np.uint8)
    Image.fromarray(board).save(work / "checker.png")
    imgconv("filter", work / "checker.png", "-k", "box:size=2", "-o", work / "plain.png")
    imgconv("filter", work / "checker.png", "-k", "box:size=2", "--linear", "-o", work / "linear.png")
    photo = Image.open(ROOT / "samples" / "coffee.png").convert("RGB").crop((200, 180, 400, 380))
    photo.save(work / "photo.png")
    imgconv("filter", work / "photo.png", "-k", "disc:radius=6", "-o", work / "photo_plain.png")
    imgconv("filter", work / "photo.png", "-k", "disc:radius=6", "--linear", "-o", work / "photo_linear.png")

    def grey(name):
        return np.asarray(Image.open(work / name).convert("RGB"), np.float32) / 255

    def half_and_half(name):
        """The checkerboard on the left, the blurred result on the right: the same brightness
        when the blur kept the light."""
        left, right = grey("checker.png"), grey(name)
        return np.concatenate([left[:, : w // 2], right[:, w // 2:]], axis=1)

    top = sheet([half_and_half("plain.png"), half_and_half("linear.png")],
                ["checker | box:size=2 (reads 128)", "checker | --linear (reads 188)"])
    bottom = sheet([grey("photo.png"), grey("photo_plain.png"), grey("photo_linear.png")],
                   ["photograph", "disc:radius=6", "disc:radius=6 --linear"])
    out = Image.new("RGB", (max(top.width, bottom.width), top.height + bottom.height + 8), "white")
    out.paste(top, (0, 0))
    out.paste(bottom, (0, top.height + 8))
    return out


def main():
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name, make in (("alpha.png", alpha_figure), ("linear.png", linear_figure)):
            dest = ROOT / "docs" / name
            make(work).save(dest, optimize=True)
            print("wrote", dest)


if __name__ == "__main__":
    main()
