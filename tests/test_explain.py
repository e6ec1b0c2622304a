"""``filter --explain`` plans every real input, by the size the filter sees (after EXIF rotation)."""
import numpy as np
import pytest
from PIL import Image

from imgconv.cli import explain as explain_cli
from imgconv.imageio import probe_shape, read_image


def rotated_jpeg(path, pixels, orientation):
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(pixels).save(path, exif=exif.tobytes(), quality=95)


@pytest.fixture
def folder(tmp_path, photo_rgb):
    src = tmp_path / "in"
    src.mkdir()
    rgb = np.rint(photo_rgb[:60, :90] * 255).astype(np.uint8)
    Image.fromarray(rgb).save(src / "a.png")
    Image.fromarray(rgb[::-1]).save(src / "b.png")
    rotated_jpeg(src / "c.jpg", rgb, 6)  # a quarter turn: the filter sees 90 x 60
    Image.fromarray(rgb[..., 0]).save(src / "d.png")  # grey
    np.save(src / "e.npy", photo_rgb[:33, :44, :2].astype(np.float32))  # grey + alpha
    (src / "f.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    return src


@pytest.mark.parametrize("orientation", [1, 3, 5, 6, 8])
def test_probe_shape_is_the_shape_read_image_gives(tmp_path, photo_rgb, orientation):
    path = tmp_path / "r.jpg"
    rotated_jpeg(path, np.rint(photo_rgb[:30, :50] * 255).astype(np.uint8), orientation)
    assert probe_shape(path) == read_image(path).pixels.shape


def test_probe_shape_of_npy_and_rotated_tiff(tmp_path, photo_rgb):
    tifffile = pytest.importorskip("tifffile")
    np.save(tmp_path / "g.npy", photo_rgb[:10, :20, 0])
    np.save(tmp_path / "c.npy", photo_rgb[:10, :20])
    tifffile.imwrite(tmp_path / "r.tif", (photo_rgb[:10, :20] * 255).astype(np.uint8), photometric="rgb",
                     extratags=[(274, 3, 1, 6, True)])  # orientation 6
    for name in ("g.npy", "c.npy", "r.tif"):
        assert probe_shape(tmp_path / name) == read_image(tmp_path / name).pixels.shape, name
    assert probe_shape(tmp_path / "r.tif") == (20, 10, 3)


def test_a_folder_run_explains_every_size_once(cli, folder, tmp_path):
    code, _, err = cli("filter", folder, "-k", "gaussian:sigma=1", "-k", "sobel", "--explain", "-o", tmp_path / "out")
    assert code == 3  # f.png is broken; the rest is written
    blocks = [line for line in err.splitlines() if line.startswith("plan for ")]
    assert blocks == [f"plan for 90x60 colour (2 inputs: {folder / 'a.png'}, {folder / 'b.png'}):",
                      f"plan for 60x90 colour ({folder / 'c.jpg'}):",
                      f"plan for 90x60 grey ({folder / 'd.png'}):",
                      f"plan for 44x33 grey ({folder / 'e.npy'}):"]
    assert err.count("  gaussian:sigma=1: 13x13 kernel") == 0 and err.count("  gaussian:sigma=1: ") == 4
    assert err.count("  sobel[1]: ") == 4
    assert f"no plan for {folder / 'f.png'}: size unknown before reading (stdin) or unreadable header" in err
    assert "assumed" not in err


def test_several_files_each_planned_and_stdin_said_so(cli, folder, tmp_path):
    code, _, err = cli("filter", folder / "a.png", folder / "c.jpg", "-k", "box:size=3", "--explain", "-o",
                       tmp_path / "out")
    assert code == 0
    assert "plan for 90x60 colour" in err and "plan for 60x90 colour" in err
    from imgconv.filtering import resolve_kernels

    lines = explain_cli.explain_lines([("-", None)], resolve_kernels(["blur"]))
    assert lines == ["no plan for -: size unknown before reading (stdin) or unreadable header"]


def test_huge_folders_are_capped(monkeypatch, folder):
    from imgconv.filtering import resolve_kernels

    monkeypatch.setattr(explain_cli, "MAX_BLOCKS", 2)
    monkeypatch.setattr(explain_cli, "MAX_PROBED", 4)
    probed, total = explain_cli.probe_inputs([folder])
    assert len(probed) == 4 and total == 6
    lines = explain_cli.explain_lines(probed, resolve_kernels(["blur"]), total=total)
    assert sum(line.startswith("plan for ") for line in lines) == 2
    assert "(and 1 inputs of 1 other sizes: no plan shown)" in lines
    assert lines[-1] == "(only the first 4 of 6 inputs were looked at)"


def test_luma_and_gray_plan_one_channel(cli, folder, tmp_path):
    from imgconv.filtering import explain_filter, resolve_kernels

    chain = resolve_kernels(["box:size=9"])
    assert explain_filter((600, 800, 3), chain, channels="luma") == explain_filter((600, 800), chain)
    assert explain_filter((600, 800, 3), chain, channels="gray") == explain_filter((600, 800), chain)


def test_alpha_premultiplied_is_one_more_plane():
    from imgconv.filtering import explain_filter, resolve_kernels

    blur, sobel = resolve_kernels(["box:size=9"]), resolve_kernels(["sobel"])
    assert explain_filter((600, 800, 4), blur, alpha="keep") == explain_filter((600, 800, 3), blur)
    assert explain_filter((600, 800, 4), blur) != explain_filter((600, 800, 3), blur)  # auto: premultiplied
    assert explain_filter((600, 800, 4), sobel) == explain_filter((600, 800, 3), sobel)  # auto: kept (signed)


def test_volumes_are_planned_per_input_size(cli, tmp_path):
    tifffile = pytest.importorskip("tifffile")
    SAMPLES = __import__("pathlib").Path(__file__).resolve().parent.parent / "samples"
    src = tmp_path / "stacks"
    src.mkdir()
    stack = tifffile.imread(SAMPLES / "stack.tif")
    tifffile.imwrite(src / "a.tif", stack)
    tifffile.imwrite(src / "b.tif", stack[:10, :64])
    code, _, err = cli("filter", src, "-k", "gaussian:sigma=1,1,2", "--explain", "-o", tmp_path / "out")
    assert code == 0, err
    blocks = [line for line in err.splitlines() if line.startswith("plan for ")]
    assert blocks == [f"plan for volume 128x128x24 grey ({src / 'a.tif'}):",
                      f"plan for volume 128x64x10 grey ({src / 'b.tif'}):"]
    assert err.count("kernel (W x H x D)") == 2 and "assumed" not in err
