"""System, model, object_info, userdata, settings, internal and static routes."""

import importlib.metadata
import json
import struct

import pytest


async def test_system_stats_and_features(client):
    stats = await (await client.get("/system_stats")).json()
    assert stats["system"]["ram_total"] > 0 and stats["devices"][0]["type"] == "cpu"
    assert stats["devices"][0]["index"] is None
    assert stats["system"]["pytorch_version"] == importlib.metadata.version("torch")
    feats = await (await client.get("/api/features")).json()
    assert feats["supports_preview_metadata"] is True


async def test_models_embeddings_metadata(client, services):
    ck = services.folders.get_folder_paths("checkpoints")[0]
    ck.mkdir(parents=True)
    header = json.dumps({"__metadata__": {"modelspec.title": "tiny"}}).encode()
    (ck / "m.safetensors").write_bytes(struct.pack("<Q", len(header)) + header)
    emb = services.folders.get_folder_paths("embeddings")[0]
    emb.mkdir(parents=True)
    (emb / "style.pt").write_bytes(b"")
    folders = await (await client.get("/models")).json()
    assert "checkpoints" in folders and "configs" in folders and "custom_nodes" in folders
    assert await (await client.get("/models/checkpoints")).json() == ["m.safetensors"]
    assert (await client.get("/models/clip")).status == 404
    assert await (await client.get("/embeddings")).json() == ["style"]
    meta = await client.get("/view_metadata/checkpoints?filename=m.safetensors")
    assert await meta.json() == {"modelspec.title": "tiny"}
    assert (await client.get("/view_metadata/checkpoints?filename=m.ckpt")).status == 404


async def test_object_info(client):
    info = await (await client.get("/object_info")).json()
    assert info["ApiShow"]["display_name"] == "Show value" and info["ApiShow"]["output_node"]
    one = await (await client.get("/api/object_info/ApiConst")).json()
    assert list(one) == ["ApiConst"]
    assert await (await client.get("/object_info/Unknown")).json() == {}


async def test_userdata_workflows(client, services):
    wf = json.dumps({"nodes": []}).encode()
    resp = await client.post("/api/userdata/workflows%2Fa.json", data=wf)
    assert resp.status == 200 and await resp.json() == "workflows/a.json"
    assert (services.folders.user_dir / "default" / "workflows" / "a.json").read_bytes() == wf
    assert (await client.post("/userdata/workflows%2Fa.json?overwrite=false", data=wf)
            ).status == 409
    listing = await (await client.get("/userdata?dir=workflows&recurse=true")).json()
    assert listing == ["a.json"]
    full = await (await client.get("/userdata?dir=workflows&full_info=true")).json()
    assert full[0]["path"] == "a.json" and full[0]["size"] == len(wf)
    assert await (await client.get("/userdata/workflows%2Fa.json")).read() == wf
    moved = await client.post("/userdata/workflows%2Fa.json/move/workflows%2Fb.json")
    assert await moved.json() == "workflows/b.json"
    v2 = await (await client.get("/v2/userdata?path=workflows")).json()
    assert [e["name"] for e in v2] == ["b.json"] and v2[0]["type"] == "file"
    assert (await client.delete("/userdata/workflows%2Fb.json")).status == 204
    assert (await client.get("/userdata/workflows%2Fb.json")).status == 404
    assert (await client.get("/userdata/..%2F..%2Fjobs.sqlite3")).status == 400
    assert (await client.get("/userdata")).status == 400
    other = await client.post("/userdata/x.json", data=b"{}", headers={"Comfy-User": "bob"})
    assert other.status == 200 and (services.folders.user_dir / "bob" / "x.json").is_file()
    assert (await client.get("/userdata/x.json", headers={"Comfy-User": "../x"})).status == 400


async def test_settings_users_i18n(client):
    assert await (await client.get("/settings")).json() == {}
    await client.post("/settings", json={"Comfy.A": 1})
    await client.post("/settings/Comfy.B", json="two")
    assert await (await client.get("/settings")).json() == {"Comfy.A": 1, "Comfy.B": "two"}
    assert await (await client.get("/settings/Comfy.B")).json() == "two"
    users = await (await client.get("/users")).json()
    assert users["storage"] == "server"
    uid = await (await client.post("/users", json={"username": "ann"})).json()
    assert uid.startswith("ann_")
    assert (await client.post("/users", json={"username": "ann"})).status == 400
    assert await (await client.get("/i18n")).json() == {}


@pytest.mark.parametrize("damaged", [b'{"Comfy.A": 1, "Comfy.B"', b"[1, 2]", b"[" * 5000],
                         ids=["cut", "not-object", "deep"])
async def test_damaged_settings_file_is_kept_not_overwritten(client, services, damaged):
    """A settings file that cannot be read gives the defaults (logged), and the next save
    keeps it beside the new one instead of dropping it silently."""
    path = services.folders.user_dir / "default" / "comfy.settings.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(damaged)
    assert await (await client.get("/settings")).json() == {}
    assert (await client.post("/settings/Comfy.C", json=3)).status == 200
    assert await (await client.get("/settings")).json() == {"Comfy.C": 3}
    assert path.with_name("comfy.settings.json.damaged").read_bytes() == damaged


async def test_damaged_users_file_is_named_not_replaced(client, services):
    path = services.folders.user_dir / "users.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b'{"ann_1": "ann", ')
    for resp in (await client.get("/users"), await client.post("/users", json={"username": "b"})):
        assert resp.status == 500
        error = (await resp.json())["error"]
        assert error["type"] == "damaged_users_file" and str(path) in error["message"]
    assert path.read_bytes() == b'{"ann_1": "ann", '


async def test_internal_and_index(client, services):
    (services.folders.output_dir / "o.png").write_bytes(b"x")
    assert await (await client.get("/internal/files/output")).json() == ["o.png [output]"]
    assert (await client.get("/internal/files/models")).status == 400
    paths = await (await client.get("/internal/folder_paths")).json()
    assert "checkpoints" in paths
    assert (await client.get("/internal/logs")).status == 200
    raw = await (await client.get("/internal/logs/raw")).json()
    assert raw["size"] == {"cols": 80, "rows": 24}
    resp = await client.get("/")
    assert resp.status == 200 and "not installed" in await resp.text()
    assert resp.headers["Cache-Control"].startswith("no-cache")
    assert await (await client.get("/extensions")).json() == []
