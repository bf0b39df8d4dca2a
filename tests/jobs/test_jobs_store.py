"""JobStore: priority, claim/lease, completion, caps, persistence and crash recovery."""

import logging

import pytest

from comfy_core.jobs import (
    STOPPED_REASON,
    DuplicatePromptError,
    JobQueryError,
    JobStore,
    get_job,
    list_jobs,
    parse_job_query,
)

PROMPT = {"1": {"class_type": "X", "inputs": {}}}


def ok_status(ts0=1000, ts1=1500, name="execution_success"):
    return {"status_str": "success" if name == "execution_success" else "error",
            "completed": name == "execution_success",
            "messages": [["execution_start", {"prompt_id": "p", "timestamp": ts0}],
                         [name, {"prompt_id": "p", "timestamp": ts1}]]}


@pytest.fixture
def store(tmp_path):
    s = JobStore(tmp_path / "jobs.sqlite3", max_history=3)
    yield s
    s.close()


def submit(store, pid, **kw):
    return store.submit(pid, PROMPT, {"create_time": 1}, ["1"], **kw)


def test_counter_front_and_explicit_number(store):
    assert submit(store, "a").number == 0
    assert submit(store, "b").number == 1
    assert submit(store, "c", front=True).number == -2
    assert submit(store, "d", number=0.5).number == 0.5
    running, pending = store.queue()
    assert running == [] and [item[1] for item in pending] == ["c", "a", "d", "b"]
    assert pending[1] == [0, "a", PROMPT, {"create_time": 1}, ["1"]]
    with pytest.raises(DuplicatePromptError, match="'a'"):
        submit(store, "a")


def test_claim_order_lease_and_heartbeat(store):
    submit(store, "a")
    submit(store, "b", front=True)
    job = store.claim("w1", lease_s=5)
    assert job.prompt_id == "b"
    assert store.heartbeat("w1", "b") and not store.heartbeat("w2", "b")
    running, pending = store.queue()
    assert [r[1] for r in running] == ["b"] and [p[1] for p in pending] == ["a"]
    assert store.remaining() == 2
    assert store.claim("w1").prompt_id == "a" and store.claim("w1") is None


def test_complete_history_and_record_shape(store):
    submit(store, "a")
    store.claim("w")
    rec = store.complete("a", {"9": {"images": [{"filename": "x.png", "subfolder": "",
                                                 "type": "output"}]}}, ok_status(),
                         {"9": {"node_id": "9", "display_node": "9", "parent_node": None,
                                "real_node_id": "9"}})
    assert rec["prompt"] == [0, "a", PROMPT, {"create_time": 1}, ["1"]]
    assert store.history_item("a") == rec
    assert store.history() == {"a": rec}
    assert store.remaining() == 0 and store.state_of("a") == "done"
    with pytest.raises(KeyError):
        store.complete("zzz", {}, ok_status(), {})


def finish(store, pid):
    submit(store, pid)
    store.claim("w")
    store.complete(pid, {}, ok_status(), {})


def test_history_cap_trims_oldest_with_log(store, caplog):
    for pid in "abcd":
        finish(store, pid)
    with caplog.at_level(logging.INFO):
        finish(store, "e")
    assert list(store.history()) == ["c", "d", "e"]
    assert "removed the 1 oldest" in caplog.text


def test_history_max_items_offset(tmp_path):
    s = JobStore(tmp_path / "h.db")
    for pid in "abcde":
        finish(s, pid)
    assert list(s.history(max_items=2)) == ["d", "e"]
    assert list(s.history(offset=3)) == ["d", "e"]
    assert list(s.history(max_items=2, offset=1)) == ["b", "c"]
    assert list(s.history(max_items=10)) == list("abcde")
    s.delete_history(["b"])
    assert list(s.history()) == ["a", "c", "d", "e"]
    s.clear_history()
    assert s.history() == {}


def test_delete_and_clear_pending_only(store):
    submit(store, "a")
    submit(store, "b")
    submit(store, "c")
    store.claim("w")
    store.delete_pending(["a", "b"])  # "a" is running: untouched
    running, pending = store.queue()
    assert [r[1] for r in running] == ["a"] and [p[1] for p in pending] == ["c"]
    submit(store, "d")
    store.clear_pending()
    assert store.queue()[1] == [] and store.remaining() == 1


def test_sensitive_keys_never_stored(tmp_path):
    path = tmp_path / "s.db"
    s = JobStore(path)
    extra = {"client_id": "c", "api_key_comfy_org": "SECRET", "auth_token_comfy_org": "T"}
    job = s.submit("a", PROMPT, extra, ["1"])
    assert job.extra_data == {"client_id": "c"}
    claimed = s.claim("w")
    assert claimed.run_extra_data()["api_key_comfy_org"] == "SECRET"
    assert claimed.queue_item()[3] == {"client_id": "c"}
    s.close()
    assert b"SECRET" not in path.read_bytes()
    assert all(b"SECRET" not in p.read_bytes() for p in tmp_path.iterdir())


def test_persistence_and_recovery_failed(tmp_path):
    path = tmp_path / "r.db"
    s = JobStore(path)
    finish(s, "old")
    for pid in ("run", "p1", "p2"):
        submit(s, pid)
    submit(s, "p0", front=True)
    assert s.claim("w").prompt_id == "p0"
    s.close()  # the process "dies" with p0 running

    s2 = JobStore(path)
    assert s2.recover() == [("p0", "failed")]
    running, pending = s2.queue()
    assert running == [] and [p[1] for p in pending] == ["run", "p1", "p2"]
    rec = s2.history_item("p0")
    assert rec["status"]["status_str"] == "error" and not rec["status"]["completed"]
    name, data = rec["status"]["messages"][-1]
    assert name == "execution_error" and data["exception_message"] == STOPPED_REASON
    assert list(s2.history()) == ["old", "p0"]
    assert submit(s2, "new").number == 5  # counter persisted


def test_recovery_requeue(tmp_path):
    path = tmp_path / "q.db"
    s = JobStore(path)
    submit(s, "a")
    submit(s, "b")
    s.claim("w")
    s.close()
    s2 = JobStore(path)
    assert s2.recover(requeue=True) == [("a", "requeued")]
    assert [p[1] for p in s2.queue()[1]] == ["a", "b"]


def test_jobs_api_queries(tmp_path):
    s = JobStore(tmp_path / "j.db")
    wf = {"extra_pnginfo": {"workflow": {"id": "wf-1"}}}
    for i, pid in enumerate(("done1", "fail1", "pend1")):
        s.submit(pid, PROMPT, {**wf, "create_time": 100 + i}, ["1"])
    s.claim("w")
    s.complete("done1", {"9": {"images": [
        {"filename": "t.png", "subfolder": "", "type": "temp"},
        {"filename": "o.png", "subfolder": "", "type": "output"}]}}, ok_status(10, 40), {})
    s.claim("w")
    s.complete("fail1", {}, ok_status(10, 20, "execution_error"), {})
    body = list_jobs(s, parse_job_query({}))
    assert [j["id"] for j in body["jobs"]] == ["pend1", "fail1", "done1"]
    assert body["pagination"] == {"offset": 0, "limit": None, "total": 3, "has_more": False}
    done = body["jobs"][2]
    assert done["status"] == "completed" and done["outputs_count"] == 2
    assert done["preview_output"]["filename"] == "o.png"
    assert done["preview_output"]["nodeId"] == "9"
    assert done["execution_start_time"] == 10 and done["execution_end_time"] == 40
    assert "execution_error" not in done and done["workflow_id"] == "wf-1"
    assert body["jobs"][1]["execution_error"]["timestamp"] == 20
    q = parse_job_query({"status": "completed,failed", "sort_by": "execution_duration",
                         "sort_order": "asc"}, limit=1)
    page = list_jobs(s, q)
    assert [j["id"] for j in page["jobs"]] == ["fail1"] and page["pagination"]["has_more"]
    assert list_jobs(s, parse_job_query({"workflow_id": "nope"}))["jobs"] == []
    assert list_jobs(s, parse_job_query({}, offset=-5))["pagination"]["offset"] == 0
    single = get_job(s, "done1")
    assert single["workflow"]["prompt"] == PROMPT and single["execution_status"]["completed"]
    assert get_job(s, "pend1")["outputs"] == {} and get_job(s, "zz") is None


@pytest.mark.parametrize("params,limit", [({"status": "bogus"}, None), ({"sort_by": "name"}, None),
                                          ({"sort_order": "up"}, None), ({}, 0), ({}, -3)])
def test_jobs_query_rejects(params, limit):
    with pytest.raises(JobQueryError):
        parse_job_query(params, limit=limit)
