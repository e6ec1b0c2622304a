"""Many images: ``imgconv filter`` with -j 1 and -j 2 beside ImageMagick, a Pillow+SciPy loop
and one imgconv process per file, on the same PNG photographs in one run.

Generates COUNT (default 200) 1024x768 RGB PNG photographs from the samples/ pictures
(mosaics of random crops, flips and resizes), filters them with gaussian sigma=2 and
prints a markdown table: images per second, peak memory of the whole process tree
(RSS summed over the process and its descendants, polled from /proc), and the ratios
the batch design is held to (-j 2 against -j 1 and against mogrify; peak memory with
SMALL vs COUNT images). It also times one image's read / filter / write.

Usage::

    python benchmarks/bench_batch.py [--count 200] [--small 50] [--slow-count N] [--workdir DIR] [--skip-slow]

``--slow-count N`` runs the two slowest rows (mogrify, one process per file) on the first N
images only, to keep a run on a loaded machine within minutes; rates are per image either way.

Not part of the test suite: it takes minutes. Run it on an otherwise idle machine
(its output starts with the load average so a loaded run can be recognised).
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
SOURCES = ("coffee.png", "rocket.jpg", "chelsea_rgba.png", "astronaut16.png", "camera.png", "scene.png")
SIZE = (1024, 768)
SIGMA = 2.0


def make_photographs(folder, count, seed=0):
    """``count`` 1024x768 RGB PNGs, each a 2x2 mosaic of resized, flipped crops of the samples."""
    from PIL import Image

    from imgconv.imageio import read_image, to_integer

    sources = []
    for name in SOURCES:
        pixels = np.asarray(read_image(SAMPLES / name).pixels)
        if pixels.ndim == 2:
            pixels = np.repeat(pixels[..., None], 3, axis=2)
        sources.append(Image.fromarray(to_integer(pixels[..., :3], 255)))
    rng = np.random.default_rng(seed)
    tile_w, tile_h = SIZE[0] // 2, SIZE[1] // 2
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        canvas = Image.new("RGB", SIZE)
        for t in range(4):
            src = sources[rng.integers(len(sources))]
            scale = max(tile_w / src.width, tile_h / src.height) * rng.uniform(1.0, 1.6)
            im = src.resize((int(np.ceil(src.width * scale)), int(np.ceil(src.height * scale))), Image.BICUBIC)
            x, y = rng.integers(im.width - tile_w + 1), rng.integers(im.height - tile_h + 1)
            im = im.crop((x, y, x + tile_w, y + tile_h))
            if rng.random() < 0.5:
                im = im.transpose(Image.FLIP_LEFT_RIGHT)
            canvas.paste(im, ((t % 2) * tile_w, (t // 2) * tile_h))
        canvas.save(folder / f"photo{i:03d}.png")


def _tree(root_pid):
    """``{pid: (resident bytes, CPU seconds)}`` of ``root_pid`` and all its descendants, from /proc."""
    children, usage = {}, {}
    page, tick = os.sysconf("SC_PAGE_SIZE"), os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fp:
                stat = fp.read()
            with open(f"/proc/{entry}/statm") as fp:
                resident = int(fp.read().split()[1]) * page
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        children.setdefault(int(fields[1]), []).append(int(entry))
        usage[int(entry)] = (resident, (int(fields[11]) + int(fields[12])) / tick)
    found, stack = {}, [root_pid]
    while stack:
        pid = stack.pop()
        if pid in usage:
            found[pid] = usage[pid]
        stack.extend(children.get(pid, []))
    return found


def measure(command, *, shell=False, cwd=None):
    """Run ``command``; return (seconds, peak RSS of its process tree in bytes, CPU seconds of the tree).

    CPU time is each process's last sample (polled every 20 ms): it tells the work done
    apart from the share of the cores a loaded machine gave the run.
    """
    start = time.perf_counter()
    proc = subprocess.Popen(command, shell=shell, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak, cpu = 0, {}
    while proc.poll() is None:
        tree = _tree(proc.pid)
        peak = max(peak, sum(rss for rss, _ in tree.values()))
        cpu.update({pid: seconds for pid, (_, seconds) in tree.items()})
        time.sleep(0.02)
    seconds = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace")
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {command}\n{err}")
    return seconds, peak, sum(cpu.values())


PILLOW_SCIPY_LOOP = """
import sys
from pathlib import Path
import numpy as np
from PIL import Image
from scipy import ndimage
src, dst = Path(sys.argv[1]), Path(sys.argv[2])
dst.mkdir(exist_ok=True)
for path in sorted(src.glob("*.png")):
    x = np.asarray(Image.open(path), np.float32) / 255
    y = np.stack([ndimage.gaussian_filter(x[..., c], %r, mode="reflect") for c in range(x.shape[2])], -1)
    Image.fromarray(np.clip(np.rint(y * 255), 0, 255).astype(np.uint8)).save(dst / path.name)
""" % SIGMA


def _first(src, count, folder):
    """A folder of hard links to the first ``count`` photographs."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    for path in sorted(src.glob("*.png"))[:count]:
        os.link(path, folder / path.name)
    return folder


def profile_one(path):
    """Seconds to read, filter and write one image in this process (best of 3)."""
    from imgconv.filtering import filter_image, resolve_kernels
    from imgconv.imageio import read_image, write_image

    chain = tuple(resolve_kernels([f"gaussian:sigma={SIGMA:g}"]))
    out = Path(tempfile.mkdtemp()) / "one.png"
    times = {"read": [], "filter": [], "write": []}
    for _ in range(3):
        t0 = time.perf_counter()
        picture = read_image(path)
        t1 = time.perf_counter()
        result = filter_image(picture, chain)
        t2 = time.perf_counter()
        write_image(out, result, like=picture)
        t3 = time.perf_counter()
        for key, value in zip(times, (t1 - t0, t2 - t1, t3 - t2)):
            times[key].append(value)
    shutil.rmtree(out.parent)
    return {key: min(values) for key, values in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--small", type=int, default=50, help="image count of the memory comparison run")
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--slow-count", type=int, help="images for the mogrify and per-file rows (default: all)")
    parser.add_argument("--skip-slow", action="store_true", help="leave out mogrify and one-process-per-file")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench_batch_"))
    src = work / "photos"
    if len(list(src.glob("*.png"))) != args.count:
        shutil.rmtree(src, ignore_errors=True)
        make_photographs(src, args.count)
    small = _first(src, args.small, work / "photos_small")
    slow_count = min(args.slow_count or args.count, args.count)
    slow = _first(src, slow_count, work / "photos_slow")
    print(f"load average before: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} "
          f"on {len(os.sched_getaffinity(0))} cores; {args.count} PNGs of {SIZE[0]}x{SIZE[1]} in {src} "
          f"({sum(p.stat().st_size for p in src.glob('*.png')) / args.count / 1e6:.2f} MB each)")
    imgconv = [sys.executable, "-m", "imgconv", "filter"]
    kernel = ["-k", f"gaussian:sigma={SIGMA:g}", "-q"]
    rows = []

    def row(name, command, count=args.count, **kwargs):
        out = work / "out"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()
        seconds, peak, cpu = measure([str(c) for c in command] if not kwargs.get("shell") else command, **kwargs)
        written = len(list(out.glob("*.png")))
        if written != count:
            raise SystemExit(f"{name}: wrote {written} of {count} images")
        rows.append((name, count, seconds, count / seconds, peak / 2**20, 1000 * cpu / count))
        print(f"  {name}: {count / seconds:.2f} images/s, peak {peak / 2**20:.0f} MiB", file=sys.stderr)

    out = work / "out"
    row("imgconv filter -j 1", imgconv + [src, *kernel, "-o", out, "-j", "1"])
    row("imgconv filter -j 2", imgconv + [src, *kernel, "-o", out, "-j", "2"])
    row(f"imgconv filter -j 2 ({args.small} images)", imgconv + [small, *kernel, "-o", out, "-j", "2"],
        count=args.small)
    row("Pillow + scipy.ndimage loop (1 process)", [sys.executable, "-c", PILLOW_SCIPY_LOOP, src, out])
    if not args.skip_slow:
        one = f"{sys.executable} -m imgconv filter \"$1\" {' '.join(kernel)} -o {out}/$(basename \"$1\")"
        per_file = f"ls {slow}/*.png | xargs -P 2 -I{{}} sh -c '{one}' _ {{}}"
        row("one imgconv process per file (xargs -P 2)", per_file, count=slow_count, shell=True)
        if shutil.which("mogrify"):
            row("ImageMagick mogrify (OpenMP threads)",
                f"mogrify -path {out} -morphology Convolve Gaussian:0x{SIGMA:g} {slow}/*.png",
                count=slow_count, shell=True)
        else:
            print("note: mogrify not found (apt-get install imagemagick); its row is left out", file=sys.stderr)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print()
    print("| run | images | seconds | images/s | peak RSS of process tree (MiB) | CPU ms per image |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, count, seconds, rate, peak, cpu in rows:
        print(f"| {name} | {count} | {seconds:.1f} | {rate:.2f} | {peak:.0f} | {cpu:.0f} |")
    by = {name: (rate, peak) for name, _, _, rate, peak, _ in rows}
    j1, j2 = by["imgconv filter -j 1"], by["imgconv filter -j 2"]
    print()
    print(f"- -j 2 / -j 1: {j2[0] / j1[0]:.2f}x (target >= 1.7x)")
    mog = by.get("ImageMagick mogrify (OpenMP threads)")
    if mog:
        print(f"- -j 2 / mogrify: {j2[0] / mog[0]:.1f}x (target >= 8x)")
    print(f"- peak RSS with {args.count} / with {args.small} images (-j 2): "
          f"{j2[1] / by[f'imgconv filter -j 2 ({args.small} images)'][1]:.2f} (target ~1: independent of the count)")
    one = profile_one(sorted(src.glob("*.png"))[0])
    total = sum(one.values())
    print("- one image in one process: " + ", ".join(
        f"{k} {v * 1000:.0f} ms ({100 * v / total:.0f}%)" for k, v in one.items()))


if __name__ == "__main__":
    main()
