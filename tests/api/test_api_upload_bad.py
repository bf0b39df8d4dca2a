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
