#!/usr/bin/env python3
"""Regenerate docs/locate.png: `imgconv match --angles full --scales ...` on a sample.

    python docs/make_locate_figure.py

The cat's eye of samples/chelsea_rgba.png (a 56 x 56 template) is pasted three times into
samples/coffee.png, turned by 35, -120 and 170 degrees and scaled by 0.8, 1.0 and 1.3, with
noise and a brightness change.  The CLI finds them (-n 3 --annotate --heatmap --overlay);
the figure is template | annotated matches | heatmap (best score over all hypotheses).
"""
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
PLACES = [((120, 150), 35.0, 0.8), ((250, 330), -120.0, 1.0), ((110, 480), 170.0, 1.3)]


def paste(scene, template, centre, angle, scale):
    """The template resized and turned by Pillow (counter-clockwise), blended in."""
    h, w = template.shape[:2]
    size = (round(w * scale), round(h * scale))
    out = scene.copy()
    cover = np.asarray(Image.new("F", size, 1.0).rotate(angle, Image.Resampling.BILINEAR, expand=True))
    cover = np.clip(cover, 0, 1)[..., None]
    planes = []
    for c in range(3):
        plane = Image.fromarray(template[..., c], "F").resize(size, Image.Resampling.BICUBIC)
        planes.append(np.asarray(plane.rotate(angle, Image.Resampling.BICUBIC, expand=True)))
    turned = np.stack(planes, axis=2)
    top, left = centre[0] - turned.shape[0] // 2, centre[1] - turned.shape[1] // 2
    region = out[top:top + turned.shape[0], left:left + turned.shape[1]]
    region[...] = region * (1 - cover) + turned * cover
    return out


def main():
    rng = np.random.default_rng(3)
    coffee = np.asarray(Image.open(ROOT / "samples" / "coffee.png").convert("RGB"), np.float32) / 255
    cat = np.asarray(Image.open(ROOT / "samples" / "chelsea_rgba.png").convert("RGB"), np.float32) / 255
    template = cat[86:142, 154:210].copy()
    scene = coffee.copy()
    for centre, angle, scale in PLACES:
        scene = paste(scene, template * 0.9 + 0.05, centre, angle, scale)
    scene = np.clip(scene + rng.normal(0, 0.02, scene.shape), 0, 1)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        paths = {k: tmp / f"{k}.png" for k in ("scene", "template", "ann", "heat")}
        Image.fromarray(np.rint(scene * 255).astype(np.uint8)).save(paths["scene"])
        Image.fromarray(np.rint(template * 255).astype(np.uint8)).save(paths["template"])
        subprocess.run([sys.executable, "-m", "imgconv", "match", str(paths["scene"]), str(paths["template"]),
                        "--angles", "full", "--scales", "0.7:1.4", "-n", "3", "-t", "0.9",
                        "--annotate", str(paths["ann"]), "--heatmap", str(paths["heat"]), "--overlay"],
                       check=True)
        panels = [Image.open(paths["template"]).convert("RGB").resize((112, 112), Image.Resampling.NEAREST),
                  Image.open(paths["ann"]).convert("RGB"), Image.open(paths["heat"]).convert("RGB")]
        height = max(p.height for p in panels)
        sheet = Image.new("RGB", (sum(p.width for p in panels) + 20, height), "white")
        x = 0
        for p in panels:
            sheet.paste(p, (x, (height - p.height) // 2))
            x += p.width + 10
        sheet.save(ROOT / "docs" / "locate.png")
    print("wrote docs/locate.png")


if __name__ == "__main__":
    main()
