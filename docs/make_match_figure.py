#!/usr/bin/env python3
"""Regenerate docs/match.png: `imgconv match` on samples/scene.png + samples/template.png.

    python docs/make_match_figure.py

Runs the CLI (--heatmap, --annotate) and puts template | heatmap | annotated side by side.
"""
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent


def main():
    scene, template = ROOT / "samples" / "scene.png", ROOT / "samples" / "template.png"
    with tempfile.TemporaryDirectory() as tmp:
        heat, ann = Path(tmp) / "heat.png", Path(tmp) / "ann.png"
        subprocess.run([sys.executable, "-m", "imgconv", "match", str(scene), str(template),
                        "--heatmap", str(heat), "--annotate", str(ann)], check=True)
        panels = [Image.open(template).convert("RGB"), Image.open(heat).convert("RGB"), Image.open(ann).convert("RGB")]
        h = max(p.height for p in panels)
        sheet = Image.new("RGB", (sum(p.width for p in panels) + 20, h), "white")
        x = 0
        for p in panels:
            sheet.paste(p, (x, (h - p.height) // 2))
            x += p.width + 10
        sheet.save(ROOT / "docs" / "match.png")
    print("wrote docs/match.png")


if __name__ == "__main__":
    main()
