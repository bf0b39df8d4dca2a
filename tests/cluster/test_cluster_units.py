"""Dispatch choices and file naming without Ray: affinity, least recently used, delay
scheduling, file availability; the server's names for workers' files; a job's items split
between the event channel and the reply."""

import threading

from comfy_core.cluster.inputs import input_files
from comfy_core.cluster.outbox import Outbox
from comfy_core.cluster.policy import PendingJob, WorkerView, assign
from comfy_core.cluster.refs import WorkerCaps, folders_by_name, merge_indexes, requirements_of
from comfy_core.cluster.transfer import FileSink
from comfy_core.files import FolderPaths

INDEX_A = {"checkpoints": frozenset({"a.safetensors", "b.safetensors"})}
INDEX_B = {"checkpoints": frozenset({"a.safetensors"})}
TYPES = frozenset({"CheckpointLoaderSimple", "SaveImage"})


def prompt(ckpt: str) -> dict:
    return {"1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": ckpt}},
            "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0]}}}


def job(pid: str, ckpt: str | None, waited: float = 0.0) -> PendingJob:
    known = folders_by_name(merge_indexes([INDEX_A, INDEX_B]))
    needs = requirements_of(prompt(ckpt) if ckpt else {}, known)
    return PendingJob(pid, needs, waited)


def worker(wid: str, *, free=True, used=0.0, held=(), index=INDEX_A) -> WorkerView:
    return WorkerView(wid, free, used, frozenset(held), WorkerCaps(index, TYPES))


def test_requirements_name_the_files_a_prompt_loads():
    needs = job("p", "a.safetensors").needs
    assert needs.files == {"a.safetensors"} and needs.node_types == TYPES
    [ref] = needs.refs
    assert (ref.node_id, ref.input_name, ref.class_type) == ("1", "ckpt_name",
                                                            "CheckpointLoaderSimple")
    assert WorkerCaps(INDEX_B, TYPES).missing(job("q", "b.safetensors").needs) == [
        "'b.safetensors' (checkpoints)"]


def test_affinity_first_then_least_recently_used():
    workers = [worker("w1", used=5, held={"b.safetensors"}), worker("w2", used=1),
               worker("w3", used=3)]
    jobs = [job("j1", "a.safetensors"), job("j2", "b.safetensors"), job("j3", None)]
    assert sorted(assign(jobs, workers, locality_wait=5)) == [
        ("j1", "w2"), ("j2", "w1"), ("j3", "w3")]


def test_a_job_waits_for_the_busy_worker_holding_its_model_then_moves_on():
    workers = [worker("w1", free=False, held={"a.safetensors"}), worker("w2")]
    assert assign([job("j1", "a.safetensors", waited=1)], workers, locality_wait=5) == []
    assert assign([job("j1", "a.safetensors", waited=6)], workers,
                  locality_wait=5) == [("j1", "w2")]
    # a later model-free job is not held up behind it
    assert assign([job("j1", "a.safetensors", 1), job("j2", None)], workers,
                  locality_wait=5) == [("j2", "w2")]


def test_a_holder_given_a_job_this_round_counts_as_busy():
    workers = [worker("w1", used=1, held={"a.safetensors"}), worker("w2", used=2)]
    jobs = [job("j1", "a.safetensors", 1), job("j2", "a.safetensors", 1)]
    assert assign(jobs, workers, locality_wait=5) == [("j1", "w1")]
    jobs = [job("j1", "a.safetensors", 6), job("j2", "a.safetensors", 6)]
    assert assign(jobs, workers, locality_wait=5) == [("j1", "w1"), ("j2", "w2")]


def test_a_worker_without_the_file_never_gets_the_job():
    workers = [worker("wa", used=9), worker("wb", used=0, index=INDEX_B)]
    assert assign([job("j1", "b.safetensors")], workers, locality_wait=0) == [("j1", "wa")]
    assert assign([job("j1", "b.safetensors")], workers[1:], locality_wait=0) == []


def test_file_sink_gives_each_worker_file_the_next_free_name(tmp_path):
    folders = FolderPaths.build(tmp_path)
    sink = FileSink(folders)
    (folders.output_dir / "img_00003_.png").parent.mkdir(parents=True, exist_ok=True)
    (folders.output_dir / "img_00003_.png").write_bytes(b"old")
    assert sink.store("w1", "output", "", "img_00001_.png", b"one") == "img_00004_.png"
    assert sink.store("w2", "output", "", "img_00001_.png", b"two") == "img_00005_.png"
    assert sink.store("w2", "output", "sub", "notes.txt", b"x") == "notes.txt"
    assert sink.store("w1", "output", "sub", "notes.txt", b"y") == "notes_1.txt"
    assert sink.store("w1", "output", "..", "evil.png", b"z") is None
    assert sink.store("w1", "output", "", "../evil.png", b"z") is None
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "target.png").write_bytes(b"keep")
    (folders.output_dir / "away").symlink_to(outside)
    assert sink.store("w1", "output", "away", "evil.png", b"z") is None
    (folders.output_dir / "link.png").symlink_to(outside / "target.png")
    assert sink.store("w1", "output", "", "link.png", b"z") == "link_1.png"
    assert [(p.name, p.read_bytes()) for p in outside.iterdir()] == [("target.png", b"keep")]
    assert (folders.output_dir / "img_00005_.png").read_bytes() == b"two"
    ui = {"images": [{"filename": "img_00001_.png", "subfolder": "", "type": "output"},
                     {"filename": "else.png", "subfolder": "", "type": "input"}]}
    assert sink.rename_outputs("w2", {"9": ui})["9"]["images"] == [
        {"filename": "img_00005_.png", "subfolder": "", "type": "output"},
        {"filename": "else.png", "subfolder": "", "type": "input"}]


def test_input_files_ship_only_files_inside_the_servers_folders(tmp_path):
    folders = FolderPaths.build(tmp_path / "base")
    for folder, name, data in ((folders.input_dir, "in.png", b"in"),
                               (folders.input_dir / "sub", "deep.png", b"deep"),
                               (folders.output_dir, "out_00001_.png", b"out")):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"secret")
    (folders.input_dir / "link.txt").symlink_to(secret)
    strings = ["in.png", "sub/deep.png", "out_00001_.png [output]", "a red circle", "euler",
               "../secret.txt", str(secret), "link.txt", "missing.png", "in.png", "x" * 5000]
    prompt = {str(i): {"class_type": "Any", "inputs": {"value": value}}
              for i, value in enumerate(strings)}
    assert input_files(prompt, folders) == {
        "input": {"in.png": b"in", "sub/deep.png": b"deep"},
        "output": {"out_00001_.png": b"out"}}


def test_file_sink_counter_follows_files_added_by_others(tmp_path):
    import os

    folders = FolderPaths.build(tmp_path)
    sink = FileSink(folders)
    assert sink.store("w1", "output", "", "img_00001_.png", b"1") == "img_00001_.png"
    assert sink.store("w1", "output", "", "img_00001_.png", b"2") == "img_00002_.png"
    out = folders.output_dir
    (out / "img_00010_.png").write_bytes(b"someone else's")
    mtime = out.stat().st_mtime_ns  # a clock tick later, as a real change would be
    os.utime(out, ns=(mtime, mtime + 1_000_000_000))
    assert sink.store("w2", "output", "", "img_00001_.png", b"3") == "img_00011_.png"
    (out / "img_00012_.png").write_bytes(b"same tick?")  # seen or not: never overwritten
    names = {sink.store("w2", "output", "", "img_00001_.png", b"4") for _ in range(2)}
    assert "img_00012_.png" not in names and len(names) == 2
    assert (out / "img_00012_.png").read_bytes() == b"same tick?"


def test_scratch_keeps_counters_unique_and_folders_small(tmp_path):
    from comfy_core.cluster.scratch import Scratch
    from comfy_core.files.save_path import save_image_path

    scratch = Scratch(str(tmp_path / "w-"))
    out = scratch.dir("output")
    sent: list = []
    for job in range(3):
        scratch.receive({"input": {"in.png": b"input"}, "output": {"x_00099_.png": b"old"}})
        assert (scratch.dir("input") / "in.png").read_bytes() == b"input"
        names = []
        for _ in range(2):
            folder, stem, counter, sub, _ = save_image_path(out, "img")
            (folder / f"{stem}_{counter:05}_.png").write_bytes(b"png")
            names.append(f"{stem}_{counter:05}_.png")
        (out / "plugin.txt").write_bytes(b"unreported")
        scratch.ship_ui({"images": [{"filename": names[0], "subfolder": "", "type": "output"}]},
                        sent.append)
        scratch.ship_rest(sent.append)
        scratch.end_job()
        assert names == [f"img_{2 * job + 1:05}_.png", f"img_{2 * job + 2:05}_.png"]
    assert sorted(p.name for p in out.iterdir()) == ["img_00006_.png"]  # the counter, empty
    assert (out / "img_00006_.png").stat().st_size == 0
    assert not list(scratch.dir("input").iterdir())
    shipped = [(kind, name) for _, kind, _, name, _ in sent]
    assert shipped.count(("output", "plugin.txt")) == 3 and ("output", "x_00099_.png") not in shipped
    assert [n for k, n in shipped if n.startswith("img")] == [f"img_{i:05}_.png" for i in range(1, 7)]
    (out / "img_00007_.png").write_bytes(b"png")  # a job that stopped before sending
    (out / "stray.txt").write_bytes(b"unsent")
    scratch.end_job()
    assert sorted(p.name for p in out.iterdir()) == ["img_00007_.png"]
    assert (out / "img_00007_.png").stat().st_size == 0
    assert save_image_path(out, "img")[2] == 8
    trash = scratch.root / "trash"  # what had data waits there until the worker is idle
    assert len(list(trash.iterdir())) >= 6
    scratch.empty_trash(lambda: True)
    assert list(trash.iterdir())
    scratch.empty_trash(lambda: False)
    assert not list(trash.iterdir())
    scratch.remove()


def test_scratch_sends_only_plain_files_inside_it(tmp_path):
    from comfy_core.cluster.scratch import Scratch

    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"worker's own file")
    scratch = Scratch(str(tmp_path / "w-"))
    out = scratch.dir("output")
    (out / "sub").mkdir()
    (out / "sub" / "ok.png").write_bytes(b"png")
    (out / "link.png").symlink_to(secret)
    (out / "away").symlink_to(tmp_path)
    sent: list = []
    ui = {"images": [{"filename": name, "subfolder": sub, "type": "output"} for sub, name in [
        ("", "link.png"), ("away", "secret.txt"), ("", "../../secret.txt"), ("..", "secret.txt"),
        ("sub", "ok.png"), ("", "sub"), ("", "missing.png")]]}
    scratch.ship_ui(ui, sent.append)
    scratch.ship_rest(sent.append)
    assert sent == [("file", "output", "sub", "ok.png", b"png")]
    scratch.remove()


def test_outbox_quick_job_sends_everything_with_its_reply():
    box = Outbox("p1")
    box.put(("event", "execution_start", {}, None))
    box.put(("file", "output", "", "a_00001_.png", b"png"))
    taken, tail = box.close(("result", {}, {}, {}))
    assert taken == 0
    assert [i[0] for i in tail] == ["event", "file", "result"]
    assert box.next_batch() is None  # the channel sends nothing for it
    box.put(("event", "late", {}, None))  # after the result: dropped
    assert box.close(("result", {}, {}, {}))[1][-2][0] == "result"


def test_outbox_long_job_items_leave_once_in_order_by_channel_then_reply():
    box = Outbox("p2")
    got: list = []
    channel = threading.Thread(target=lambda: got.extend(iter(box.next_batch, None)))
    channel.start()
    box.put(("event", "one", {}, None))
    while not got:  # the channel sends what was queued once the job ran a while
        threading.Event().wait(0.01)
    box.put(("event", "two", {}, None))
    taken, tail = box.close(("result", {}, {}, {}))
    channel.join(10)
    assert not channel.is_alive()
    sent: list = []
    for prompt_id, start, items in got:  # each batch (or beat) says where it starts
        assert prompt_id == "p2" and start == len(sent)
        sent += items
    assert taken == len(sent)
    assert [i[1] for i in sent + tail[:-1]] == ["one", "two"]
    assert tail[-1][0] == "result"
