"""Uploads that must be refused with a clear 4xx: links leaving input/, broken multipart."""

import os

import pytest
from test_api_files import form, png_bytes


@pytest.fixture
def outside(tmp_path):
    """A file outside every server folder, and its original bytes."""
    path = tmp_path / "elsewhere" / "secret.png"
    path.parent.mkdir()
    path.write_bytes(png_bytes(color=(1, 2, 3, 255)))
    return path


@pytest.mark.parametrize("overwrite", ["true", "false"])
async def test_upload_over_link_leaving_input(client, services, outside, overwrite):
    link = services.folders.input_dir / "link.png"
    os.symlink(outside, link)
    resp = await client.post("/upload/image", data=form("link.png", png_bytes(),
                                                        overwrite=overwrite))
    assert resp.status in (200, 400), await resp.text()
    if resp.status == 400:
        error = (await resp.json())["error"]
        assert error["type"] == "invalid_upload" and "link.png" in error["message"]
    else:  # stored under a fresh name, never through the link
        assert (await resp.json())["name"] == "link (1).png"
    assert outside.read_bytes() == png_bytes(color=(1, 2, 3, 255))
    assert os.readlink(link) == str(outside)


async def test_upload_over_dangling_link_leaving_input(client, services, tmp_path):
    os.symlink(tmp_path / "nowhere.png", services.folders.input_dir / "dangle.png")
    resp = await client.post("/upload/image", data=form("dangle.png", png_bytes()))
    assert resp.status in (200, 400), await resp.text()
    assert not (tmp_path / "nowhere.png").exists()


async def test_identical_content_behind_link_is_not_reused(client, services, outside):
    """Dedupe never hashes a file outside input/ (that would reveal its content)."""
    os.symlink(outside, services.folders.input_dir / "same.png")
    resp = await client.post("/upload/image", data=form("same.png", outside.read_bytes()))
    assert resp.status == 200 and (await resp.json())["name"] == "same (1).png"


@pytest.mark.parametrize("content_type,body", [
    ("multipart/form-data", b"--x\r\n"),
    ("multipart/form-data; boundary=xyz", b"garbage without any boundary"),
    ("multipart/form-data; boundary=xyz",
     b'--xyz\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n\r\n\x89PNG'),
    ("multipart/form-data; boundary=xyz", b"--xyz\r\nno headers end here"),
    ("multipart/form-data; boundary=xyz", b"--xyz--\r\n"),
    ("text/plain", b"hello"),
])
async def test_broken_multipart_is_400(client, content_type, body):
    resp = await client.post("/upload/image", data=body, headers={"Content-Type": content_type})
    assert resp.status == 400, await resp.text()
    error = (await resp.json())["error"]
    assert error["message"] and error["type"] in ("invalid_multipart", "invalid_upload",
                                                  "bad_request")
    assert (await client.get("/queue")).status == 200


# -- item 7: pixel and frame limits at upload, bounded previews ---------------------------
from comfy_core.tools.hostile_images import blank_png, many_frames_gif  # noqa: E402


@pytest.mark.parametrize("name,data,word", [
    ("big.png", blank_png(12000, 12000), "pixels"),
    ("anim.gif", many_frames_gif(600), "frames"),
])
async def test_amplifying_uploads_refused(client, services, name, data, word):
    resp = await client.post("/upload/image", data=form(name, data))
    assert resp.status == 413, await resp.text()
    error = (await resp.json())["error"]
    assert error["type"] == "image_too_large" and word in error["message"]
    assert not (services.folders.input_dir / name).exists()


async def test_preview_of_huge_image_refused_raw_file_served(client, services):
    data = blank_png(12000, 12000)
    (services.folders.output_dir / "huge.png").write_bytes(data)
    resp = await client.get("/view?filename=huge.png&preview=webp;50")
    assert resp.status == 413 and (await resp.json())["error"]["type"] == "image_too_large"
    assert (await client.get("/view?filename=huge.png&channel=rgb")).status == 413
    raw = await client.get("/view?filename=huge.png")
    assert raw.status == 200 and await raw.read() == data


async def test_preview_of_large_image_is_downscaled(client, services):
    import io

    from PIL import Image

    (services.folders.output_dir / "wide.png").write_bytes(blank_png(6000, 3000))
    resp = await client.get("/view?filename=wide.png&preview=jpeg")
    assert resp.status == 200 and resp.headers["Content-Type"] == "image/jpeg"
    preview = Image.open(io.BytesIO(await resp.read()))
    assert preview.size == (4096, 2048)
    (services.folders.output_dir / "small.png").write_bytes(png_bytes((300, 200)))
    small = Image.open(io.BytesIO(await (await client.get(
        "/view?filename=small.png&preview=webp")).read()))
    assert small.size == (300, 200)  # normal sizes keep ComfyUI's full-size preview


# -- links leading out and partial writes are not listed --------------------------------
async def test_links_leading_out_are_not_listed(client, services, outside):
    (services.folders.input_dir / "away.png").symlink_to(outside)
    (services.folders.output_dir / "away.png").symlink_to(outside)
    (services.folders.input_dir / "real.png").write_bytes(png_bytes())
    (services.folders.input_dir / "alias.png").symlink_to(services.folders.input_dir / "real.png")
    (services.folders.output_dir / "kept.png").write_bytes(png_bytes())
    listed = await (await client.get("/internal/files/input")).json()
    assert sorted(listed) == ["alias.png [input]", "real.png [input]"]
    assert await (await client.get("/internal/files/output")).json() == ["kept.png [output]"]
    # what is not listed is not served either
    assert (await client.get("/view?filename=away.png")).status == 400
