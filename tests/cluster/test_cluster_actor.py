"""The worker class itself, outside Ray (nothing else calls it here): a job's clean-up
happens by itself soon after its reply, so neither the next job nor the monitor's stats
call waits for it."""

import time
import uuid

import pytest
from cluster_harness import make_base

from comfy_core.cluster.actor import WorkerActor
from comfy_core.settings import Settings

pytest.importorskip("torch")


def image_job(color: int) -> dict:
    image = {"width": 8, "height": 8, "batch_size": 1, "color": color}
    prompt = {"1": {"class_type": "EmptyImage", "inputs": image},
              "2": {"class_type": "SaveImage",
                    "inputs": {"images": ["1", 0], "filename_prefix": "tidy"}}}
    return {"prompt_id": str(uuid.uuid4()), "prompt": prompt, "extra_data": {}, "outputs": ["2"]}


def test_a_jobs_clean_up_follows_its_reply_without_a_next_call(tmp_path):
    actor = WorkerActor("w-tidy", Settings(base_directory=make_base(tmp_path)))
    output = actor._scratch.dir("output")
    try:
        for counter in (1, 2):
            taken, items = actor.run(image_job(color=counter))
            assert taken == 0
            files = [item for item in items if item[0] == "file"]
            assert [(f[1], f[3]) for f in files] == [("output", f"tidy_{counter:05}_.png")]
            assert files[0][4].startswith(b"\x89PNG")
            assert items[-1][0] == "result" and items[-1][2]["status_str"] == "success"
            deadline = time.monotonic() + 30
            while actor._owed and time.monotonic() < deadline:
                time.sleep(0.01)
            assert not actor._owed
            # the image went to the trash; its name stays, empty, to hold the counter
            left = [(p.name, p.stat().st_size) for p in output.iterdir()]
            assert left == [(f"tidy_{counter:05}_.png", 0)]
    finally:
        actor._scratch.remove()
