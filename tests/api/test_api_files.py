"""/view and uploads: names, containment, real-image checks, dedupe, masks, headers."""

import io
import json

from aiohttp import FormData
from PIL import Image, PngImagePlugin


def png_bytes(size=(4, 4), color=(255, 0, 0, 255), text=None) -> bytes:
    img = Image.new("RGBA", size, color)
    buf = io.BytesIO()
    info = None
    if text:
        info = PngImagePlugin.PngInfo()
        for k, v in text.items():
            info.add_text(k, v)
    img.save(buf, format="PNG", pnginfo=info)
    return buf.getvalue()


def form(name, data, **fields):
    f = FormData()
    f.add_field("image", data, filename=name, content_type="application/octet-stream")
    for k, v in fields.items():
        f.add_field(k, v)
    return f


async def test_upload_then_view(client, services):
    resp = await client.post("/upload/image", data=form("a.png", png_bytes()))
    assert resp.status == 200
    assert await resp.json() == {"name": "a.png", "subfolder": "", "type": "input"}
    assert (services.folders.input_dir / "a.png").read_bytes() == png_bytes()
    resp = await client.get("/view?filename=a.png&type=input")
    assert resp.status == 200 and await resp.read() == png_bytes()
    assert resp.headers["Content-Type"] == "image/png"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Content-Disposition"] == 'filename="a.png"'
    resp = await client.get("/view?filename=a.png [input]&type=output")
    assert resp.status == 200


async def test_upload_dedupe_and_rename(client, services):
    await client.post("/upload/image", data=form("d.png", png_bytes()))
    same = await (await client.post("/upload/image", data=form("d.png", png_bytes()))).json()
    assert same["name"] == "d.png"
    other = png_bytes(color=(0, 255, 0, 255))
    renamed = await (await client.post("/upload/image", data=form("d.png", other))).json()
    assert renamed["name"] == "d (1).png"
    forced = await (await client.post("/upload/image",
                                      data=form("d.png", other, overwrite="true"))).json()
    assert forced["name"] == "d.png"
    assert (services.folders.input_dir / "d.png").read_bytes() == other
    sub = await (await client.post("/upload/image",
                                   data=form("s.png", png_bytes(), subfolder="x/y",
                                             type="temp"))).json()
    assert sub == {"name": "s.png", "subfolder": "x/y", "type": "temp"}
    assert (services.folders.temp_dir / "x" / "y" / "s.png").is_file()


async def test_upload_rejections(client, services):
    cases = [form("evil.png", b"<svg onload=alert(1)></svg>"),
             form("x.html", png_bytes()),
             form("../x.png", png_bytes()),
             form("ok.png", png_bytes(), subfolder="../../etc"),
             form("ok.png", png_bytes(), type="models")]
    for data in cases:
        resp = await client.post("/upload/image", data=data)
        body = await resp.json()
        assert resp.status == 400 and body["error"]["type"] == "invalid_upload", body
    resp = await client.post("/upload/image", data=b"{}", headers={"Content-Type": "text/plain"})
    assert resp.status == 400
    assert list(services.folders.input_dir.iterdir()) == []


async def test_view_rejections(client, tmp_path, services):
    outside = tmp_path / "secret.png"
    outside.write_bytes(png_bytes())
    (services.folders.output_dir / "link").symlink_to(tmp_path)
    (services.folders.output_dir / "page.html").write_text("<script>alert(1)</script>")
    assert (await client.get("/view")).status == 404
    assert (await client.get("/view?filename=../secret.png")).status == 400
    assert (await client.get("/view?filename=/etc/passwd")).status == 400
    assert (await client.get("/view?filename=a.png&type=models")).status == 400
    assert (await client.get("/view?filename=secret.png&subfolder=..")).status == 403
    assert (await client.get("/view?filename=secret.png&subfolder=link")).status == 403
    assert (await client.get("/view?filename=missing.png")).status == 404
    resp = await client.get("/view?filename=page.html")
    assert resp.status == 200 and resp.headers["Content-Type"] == "application/octet-stream"
    assert resp.headers["Content-Disposition"].startswith("attachment")


async def test_view_preview_and_channels(client, services):
    (services.folders.output_dir / "c.png").write_bytes(png_bytes(color=(10, 20, 30, 128)))
    resp = await client.get("/view?filename=c.png&preview=jpeg;50")
    assert resp.headers["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(await resp.read())).format == "JPEG"
    resp = await client.get("/view?filename=c.png&preview=bogus")
    assert resp.headers["Content-Type"] == "image/webp"
    rgb = Image.open(io.BytesIO(await (await client.get("/view?filename=c.png&channel=rgb"))
                                .read()))
    assert rgb.mode == "RGB" and rgb.getpixel((0, 0)) == (10, 20, 30)
    alpha = Image.open(io.BytesIO(await (await client.get("/view?filename=c.png&channel=a"))
                                  .read()))
    assert alpha.mode == "RGBA" and alpha.getpixel((0, 0))[3] == 128


async def test_upload_mask_keeps_text_and_sets_alpha(client, services):
    (services.folders.output_dir / "orig.png").write_bytes(
        png_bytes(color=(1, 2, 3, 255), text={"prompt": "{}"}))
    mask = png_bytes(color=(0, 0, 0, 7))
    resp = await client.post("/upload/mask", data=form(
        "clipspace-mask.png", mask, original_ref=json.dumps({"filename": "orig.png"})))
    assert resp.status == 200
    saved = Image.open(services.folders.input_dir / "clipspace-mask.png")
    assert saved.getpixel((0, 0)) == (1, 2, 3, 7) and saved.text["prompt"] == "{}"
    resp = await client.post("/upload/mask", data=form(
        "m2.png", mask, original_ref=json.dumps({"filename": "orig.png", "subfolder": "../.."})))
    assert resp.status == 400
    resp = await client.post("/upload/mask", data=form("m3.png", mask, original_ref="nope"))
    assert resp.status == 400
