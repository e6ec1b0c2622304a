#!/usr/bin/env python3
"""Make docs/deconvolve_before_after.png with the imgconv command line itself.

A real photograph (samples/coffee.png) is blurred by ``imgconv filter -k PSF``
(a 15 px motion line at 30 degrees: camera shake), saved as 8-bit PNG (so the
input carries the usual rounding noise), restored by ``imgconv deconvolve --psf PSF``
(default Wiener) and by ``--method richardson-lucy``, and the four are set side by
side with their PSNR against the original.

    python benchmarks/make_deconvolve_figure.py [--out docs/deconvolve_before_after.png]
"""
import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
PSF = "motion:length=15,angle=30"


def imgconv(*args):
    subprocess.run([sys.executable, "-m", "imgconv", *map(str, args)], check=True)


def load(path):
    return np.asarray(Image.open(path).convert("RGB"), np.float64) / 255


def psnr(a, b):
    return 10 * np.log10(1.0 / np.mean((a - b) ** 2))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", default=ROOT / "samples" / "coffee.png", type=Path)
    parser.add_argument("--out", default=ROOT / "docs" / "deconvolve_before_after.png", type=Path)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        blurred, wiener, rl = tmp / "blurred.png", tmp / "wiener.png", tmp / "rl.png"
        imgconv("filter", args.source, "-k", PSF, "-o", blurred)
        imgconv("deconvolve", blurred, "--psf", PSF, "-o", wiener)
        imgconv("deconvolve", blurred, "--psf", PSF, "--method", "richardson-lucy", "--iterations", "30",
                "-o", rl)
        sharp = load(args.source)
        panels = [("original", sharp), (f"blurred: {PSF}", load(blurred)),
                  ("imgconv deconvolve (wiener)", load(wiener)),
                  ("--method richardson-lucy", load(rl))]

    h, w = sharp.shape[:2]
    crop = (slice(h // 6, h // 6 + 240), slice(w // 4, w // 4 + 280))  # the cup's rim and the spoon
    label = 22
    sheet = Image.new("RGB", (len(panels) * (280 + 6) - 6, 240 + label), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (title, image) in enumerate(panels):
        if i:
            title += f"  {psnr(image, sharp):.1f} dB"
        tile = Image.fromarray(np.rint(np.clip(image[crop], 0, 1) * 255).astype(np.uint8))
        x = i * (280 + 6)
        sheet.paste(tile, (x, label))
        draw.text((x + 4, 4), title, fill="black")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, optimize=True)
    print(args.out)


if __name__ == "__main__":
    main()
