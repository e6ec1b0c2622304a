#!/usr/bin/env python3
"""End to end, as whole processes: `imgconv filter` beside ImageMagick on a 4K PNG photograph.

    python benchmarks/bench_cli_imagemagick.py [--runs 3]

Makes a 3840x2160 PNG from samples/coffee.png (Lanczos upscale of a real photograph),
then times, alternating, in one run:
  imgconv filter in.png -k gaussian:sigma=2 -o out.png
  convert in.png -morphology Convolve Gaussian:0x2 out.png      (Debian's imagemagick)
plus `imgconv --help` and `imgconv kernels` start-up. Prints medians and the ratio.
"""
import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent


def timed(cmd):
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3)
    a = p.parse_args()
    imgconv = [sys.executable, "-m", "imgconv"]
    exe = shutil.which("imgconv")
    if exe:
        imgconv = [exe]
    magick = next((c for c in ("/usr/bin/convert", "/usr/bin/magick") if Path(c).exists()), None)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in.png"
        photo = Image.open(ROOT / "samples" / "coffee.png").convert("RGB")
        photo.resize((3840, 2560), Image.LANCZOS).crop((0, 200, 3840, 2360)).save(src)
        print(f"input: {src.stat().st_size / 1e6:.1f} MB PNG, 3840x2160 RGB 8-bit")
        times = {"imgconv": [], "ImageMagick": [], "imgconv --help": [], "imgconv kernels": []}
        subprocess.run(imgconv + ["filter", str(src), "-k", "gaussian:sigma=2", "-o", str(Path(tmp) / "warm.png")],
                       check=True)  # warm-up: compiled-loop cache, file cache
        for _ in range(a.runs):
            out = Path(tmp) / "ic.png"
            out.unlink(missing_ok=True)
            times["imgconv"].append(timed(imgconv + ["filter", str(src), "-k", "gaussian:sigma=2", "-o", str(out)]))
            if magick:
                times["ImageMagick"].append(timed([magick, str(src), "-morphology", "Convolve", "Gaussian:0x2",
                                                   str(Path(tmp) / "im.png")]))
            times["imgconv --help"].append(timed(imgconv + ["--help"]))
            times["imgconv kernels"].append(timed(imgconv + ["kernels"]))
        print("\n| command | median wall (s) |\n|---|---|")
        for name, ts in times.items():
            if ts:
                print(f"| {name} | {statistics.median(ts):.2f} |")
        if times["ImageMagick"]:
            r = statistics.median(times["ImageMagick"]) / statistics.median(times["imgconv"])
            print(f"\nimgconv is {r:.1f}x faster than ImageMagick end to end")


if __name__ == "__main__":
    main()
