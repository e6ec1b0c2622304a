#!/usr/bin/env python3
"""End to end, as whole processes: `imgconv filter` beside libvips, ImageMagick and G'MIC, in one run.

    python benchmarks/bench_cli_peers.py [--runs 3] [--only 4k,tiff,batch] [--keep DIR] [--scale 1]

Peers, each skipped when it is not installed (Debian: apt-get install libvips-tools imagemagick
gmic): `vips` at float precision (what imgconv computes) and at its default integer precision,
ImageMagick 6's `convert`, G'MIC's `gmic`. Inputs are made from samples/coffee.png (Lanczos
upscales of a real photograph, deterministic) in a temporary folder:

  4k     3840x2160 PNG: gaussian:sigma=2 and a 3x3 sharpen
  tiff   11520x10800 RGB uncompressed TIFF (124 MP): gaussian:sigma=2 and a dense 9x9 kernel file
  batch  60 PNGs of 1024x768, gaussian:sigma=2, 2 workers (imgconv -j 2; xargs -P 2 vips ...)
  png    in this process: the 4K PNG's samples encoded by imgconv's PNG writer with one zlib
         stream, and deflated in pieces on 2 threads (Pillow's encoder, level 1, beside them)

Each command runs --runs times, alternating with its peers; the table gives the median wall
time, the peak RSS of the whole process tree (the sum of its processes' RSS, sampled every
10 ms, or the largest one's rusage peak if higher) and the output's size, with ratios
imgconv / peer (below 1: imgconv is faster or smaller), then the README's targets and
whether this run meets them. Run it on the README's default install (`pip install .`); the
imgconv timed is the one installed beside this Python. ``--scale 0.1 --runs 1`` makes every
input a tenth of its size (and the batch 6 images): a quick check that the script runs, whose
figures mean nothing against the targets.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
SHARPEN = "0 -1 0\n-1 5 -1\n0 -1 0\n"
BATCH_IMAGES = 60


def tree_rss(pid):
    """Bytes of RSS of ``pid`` and all its descendants, from /proc."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as status:
                total += next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) * 1024
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as children:
                    todo += [int(c) for c in children.read().split()]
        except (OSError, StopIteration, ValueError):
            continue
    return total


def measure(cmd, shell=False):
    """(wall seconds, peak RSS bytes of the process tree) of one run of ``cmd``: the largest sum
    of the tree's RSS sampled every 10 ms, or the peak of its largest process if higher (from
    GNU time, which forks it from a small process: Linux carries a child's ru_maxrss over from
    the process it was forked from, here this one)."""
    report = tempfile.NamedTemporaryFile(suffix=".rss", delete=False)
    report.close()
    timer = ["/usr/bin/time", "-f", "%M", "-o", report.name] if os.path.exists("/usr/bin/time") else []
    cmd = timer + (["sh", "-c", cmd] if shell else cmd)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, tree_rss(proc.pid))
        time.sleep(0.01)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd} failed: {proc.stderr.read().decode()[-500:]}")
    with open(report.name) as kib:
        largest = int((kib.read().split() or ["0"])[-1]) * 1024
    os.unlink(report.name)
    return wall, max(peak, largest)


def make_inputs(folder, scale=1.0):
    """The 4K PNG, the 124 MP TIFF, the batch of PNGs, the kernel files; deterministic (made in a
    child process, so that this one stays small); every side times ``scale``."""
    import tifffile

    def n(side):
        return max(16, round(side * scale))

    photo = Image.open(ROOT / "samples" / "coffee.png").convert("RGB")
    paths = {"4k": folder / "in4k.png", "tiff": folder / "in124mp.tif", "batch": folder / "batch"}
    big = photo.resize((n(3840), n(2560)), Image.LANCZOS)
    big.crop((0, n(200), n(3840), n(2360))).save(paths["4k"])
    paths["batch"].mkdir()
    for i in range(batch_images(scale)):
        x, y = (i * 197) % (n(3840) - n(1024)), (i * 131) % (n(2560) - n(768))
        big.crop((x, y, x + n(1024), y + n(768))).save(paths["batch"] / f"b{i:02d}.png")
    tifffile.imwrite(paths["tiff"], np.asarray(photo.resize((n(11520), n(10800)), Image.LANCZOS)), photometric="rgb")
    dense = np.random.default_rng(9).random((9, 9))
    dense /= dense.sum()
    rows = "\n".join(" ".join(f"{v:.9f}" for v in row) for row in dense) + "\n"
    (folder / "dense9.txt").write_text(rows)
    (folder / "dense9.mat").write_text("9 9 1 0\n" + rows)
    (folder / "sharpen.mat").write_text("3 3 1 0\n" + SHARPEN)
    return paths


def batch_images(scale):
    return max(2, round(BATCH_IMAGES * min(1.0, scale)))


def imgconv_command():
    """The imgconv installed beside this Python (its console script, else ``python -m imgconv``)."""
    script = Path(sys.executable).parent / "imgconv"
    return [str(script)] if script.exists() else [sys.executable, "-m", "imgconv"]


def jobs(paths, folder, tools):
    """{job: [(tool, command, output path or folder, shell?)]} for the jobs of the table."""
    imgconv = imgconv_command()
    out = folder / "out"
    out.mkdir(exist_ok=True)
    table = {}

    def add(job, tool, cmd, output, shell=False):
        if tool.split()[0] in tools:
            table.setdefault(job, []).append((tool, cmd, output, shell))

    for name, src in (("4K PNG, gaussian:sigma=2", paths["4k"]), ("124 MP TIFF, gaussian:sigma=2", paths["tiff"])):
        ext = src.suffix
        add(name, "imgconv", imgconv + ["filter", str(src), "-k", "gaussian:sigma=2", "-o", str(out / f"ic{ext}"),
                                         "--overwrite", "-q"], out / f"ic{ext}")
        add(name, "vips float", ["vips", "gaussblur", str(src), str(out / f"vf{ext}"), "2", "--precision", "float"],
            out / f"vf{ext}")
        add(name, "vips integer", ["vips", "gaussblur", str(src), str(out / f"vi{ext}"), "2"], out / f"vi{ext}")
        if ext == ".png":
            add(name, "ImageMagick", ["convert", str(src), "-morphology", "Convolve", "Gaussian:0x2",
                                      str(out / "im.png")], out / "im.png")
            add(name, "G'MIC", ["gmic", "-input", str(src), "-blur", "2", "-output", str(out / "gm.png")],
                out / "gm.png")
    name = "4K PNG, sharpen 3x3"
    add(name, "imgconv", imgconv + ["filter", str(paths["4k"]), "-k", "sharpen", "-o", str(out / "ics.png"),
                                     "--overwrite", "-q"], out / "ics.png")
    for tool, precision in (("vips float", "float"), ("vips integer", "integer")):
        add(name, tool, ["vips", "conv", str(paths["4k"]), str(out / "vs.png"), str(folder / "sharpen.mat"),
                         "--precision", precision], out / "vs.png")
    name = "124 MP TIFF, dense 9x9 kernel file"
    add(name, "imgconv", imgconv + ["filter", str(paths["tiff"]), "-k", str(folder / "dense9.txt"), "-o",
                                     str(out / "icd.tif"), "--overwrite", "-q"], out / "icd.tif")
    add(name, "vips float", ["vips", "conv", str(paths["tiff"]), str(out / "vd.tif"), str(folder / "dense9.mat"),
                             "--precision", "float"], out / "vd.tif")
    name = f"{BATCH_IMAGES} PNGs 1024x768, gaussian:sigma=2, 2 workers"
    add(name, "imgconv", imgconv + ["filter", str(paths["batch"]), "-k", "gaussian:sigma=2", "-o", str(out / "icb"),
                                     "-j", "2", "--overwrite", "-q"], out / "icb")
    for tool, flags in (("vips float", "--precision float"), ("vips integer", "")):
        folder_out = out / ("vbf" if flags else "vbi")
        folder_out.mkdir(exist_ok=True)
        add(name, tool, f"ls {paths['batch']}/*.png | xargs -P 2 -I{{}} sh -c "
                        f"'vips gaussblur {{}} {folder_out}/$(basename {{}}) 2 {flags}'", folder_out, shell=True)
    return table


def size_of(path):
    path = Path(path)
    return sum(p.stat().st_size for p in path.iterdir()) if path.is_dir() else path.stat().st_size


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--only", default="4k,tiff,batch,png", help="comma-separated: 4k, tiff, batch, png")
    p.add_argument("--keep", type=Path, help="make the inputs here and keep them (default: a temporary folder)")
    p.add_argument("--scale", type=float, default=1.0, help="every input's sides times this (0.1: a quick smoke run)")
    a = p.parse_args()
    if a.scale != 1:
        print(f"inputs scaled by {a.scale} (the job names give their full sizes; the targets do not apply)")
    tools = {"imgconv"} | {t for t in ("vips", "convert", "gmic") if shutil.which(t)}
    tools |= {"ImageMagick"} if "convert" in tools else set()
    tools |= {"G'MIC"} if "gmic" in tools else set()
    print("peers found:", ", ".join(sorted(tools - {"imgconv", "convert", "gmic"})) or "none", flush=True)
    folder = a.keep or Path(tempfile.mkdtemp(prefix="bench_peers_"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(1) as child:
            paths = child.submit(make_inputs, folder, a.scale).result()
        wanted = {"4k": "4K", "tiff": "124 MP", "batch": "PNGs", "png": None}
        selected = [wanted[w] for w in a.only.split(",") if wanted[w]]
        if "png" in a.only.split(","):
            png_writers(paths["4k"], a.runs)
        results = {}
        for job, commands in jobs(paths, folder, tools).items():
            if not any(key in job for key in selected):
                continue
            for tool, cmd, output, shell in commands:  # warm-up: file cache, compiled-loop cache
                measure(cmd, shell)
            samples = {tool: [] for tool, *_ in commands}
            for _ in range(a.runs):
                for tool, cmd, output, shell in commands:
                    samples[tool].append(measure(cmd, shell))
            results[job] = {tool: (statistics.median(w for w, _ in s), max(r for _, r in s), size_of(out))
                            for (tool, _, out, _), s in zip(commands, samples.values())}
            report(job, results[job], batch_images(a.scale))
        targets(results)
    finally:
        if a.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


def png_writers(path, runs):
    """Encoding the 4K photograph's samples: one zlib stream against pieces deflated on 2 threads."""
    import io

    from imgconv.imageio.png16 import PngWriter

    samples = np.asarray(Image.open(path))
    height, width, channels = samples.shape

    def imgconv_png(threads):
        buffer = io.BytesIO()
        with PngWriter(buffer, width, height, channels, 8, threads=threads) as png:
            for a in range(0, height, 256):
                png.write(samples[a:a + 256])
        return buffer

    def pillow_png():
        buffer = io.BytesIO()
        Image.fromarray(samples).save(buffer, "PNG", compress_level=1)
        return buffer

    encoders = {"imgconv, one zlib stream": lambda: imgconv_png(1),
                "imgconv, pieces on 2 threads": lambda: imgconv_png(2), "Pillow, level 1": pillow_png}
    times = {name: [] for name in encoders}
    for _ in range(runs):
        for name, encode in encoders.items():
            wall, cpu = time.perf_counter(), time.process_time()
            size = len(encode().getvalue())
            times[name].append((time.perf_counter() - wall, time.process_time() - cpu, size))
    print(f"\n### PNG writer, {width}x{height} RGB 8-bit samples, in one process\n")
    print("| encoder | wall s | CPU s | MB |\n|---|---|---|---|")
    for name, rows in times.items():
        print(f"| {name} | {statistics.median(r[0] for r in rows):.3f} | {statistics.median(r[1] for r in rows):.3f} "
              f"| {rows[0][2] / 1e6:.2f} |", flush=True)


def report(job, rows, images=BATCH_IMAGES):
    images = images if "PNGs" in job else None
    ic = rows.get("imgconv")
    print(f"\n### {job}\n\n| tool | wall s | {'images/s | ' if images else ''}peak RSS MB | output MB "
          "| imgconv/peer wall | imgconv/peer RSS |")
    print("|---|---|" + ("---|" if images else "") + "---|---|---|---|")
    for tool, (wall, rss, size) in rows.items():
        rate = f"{images / wall:.1f} | " if images else ""
        ratios = ("—", "—") if tool == "imgconv" or ic is None else (f"{ic[0] / wall:.2f}", f"{ic[1] / rss:.2f}")
        print(f"| {tool} | {wall:.2f} | {rate}{rss / 2**20:.0f} | {size / 1e6:.1f} | {ratios[0]} | {ratios[1]} |",
              flush=True)


def targets(results):
    """The README's targets, and whether this run meets them."""
    def get(job, tool):
        return next((rows.get(tool) for name, rows in results.items() if name.startswith(job)), None)

    checks = []
    for job in ("4K PNG, gaussian", "4K PNG, sharpen"):
        ic, vf = get(job, "imgconv"), get(job, "vips float")
        if ic and vf:
            checks += [(f"{job}: wall <= 1.0x vips float", ic[0] / vf[0], ic[0] <= vf[0]),
                       (f"{job}: peak RSS <= 200 MB", ic[1] / 2**20, ic[1] <= 200 * 2**20),
                       (f"{job}: PNG no larger than vips's", ic[2] / vf[2], ic[2] <= vf[2])]
    ic, vf = get("124 MP TIFF, gaussian", "imgconv"), get("124 MP TIFF, gaussian", "vips float")
    if ic and vf:
        checks += [("124 MP TIFF gaussian: wall <= 1.0x vips float", ic[0] / vf[0], ic[0] <= vf[0]),
                   ("124 MP TIFF gaussian: peak RSS <= 256 MB", ic[1] / 2**20, ic[1] <= 256 * 2**20)]
    ic, vf = get("124 MP TIFF, dense", "imgconv"), get("124 MP TIFF, dense", "vips float")
    if ic and vf:
        checks.append(("124 MP TIFF dense 9x9: wall <= 0.8x vips float", ic[0] / vf[0], ic[0] <= 0.8 * vf[0]))
    ic, vf = get(f"{BATCH_IMAGES} PNGs", "imgconv"), get(f"{BATCH_IMAGES} PNGs", "vips float")
    if ic and vf:
        checks.append(("batch: >= 1.25x the images/s of xargs -P 2 vips float", vf[0] / ic[0], vf[0] >= 1.25 * ic[0]))
    if checks:
        print("\n| target | this run | met |\n|---|---|---|")
        for name, value, met in checks:
            print(f"| {name} | {value:.2f} | {'yes' if met else 'no'} |")


if __name__ == "__main__":
    main()
