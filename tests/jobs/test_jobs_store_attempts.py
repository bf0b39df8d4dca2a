"""JobStore for several workers: claiming a chosen job, attempts, re-queueing a job whose
worker was lost, recovery by attempts, and opening a database made before `attempts`."""

import sqlite3

from comfy_core.jobs import STOPPED_REASON, JobStore

PROMPT = {"1": {"class_type": "X", "inputs": {}}}


def submit(store, pid, **kw):
    return store.submit(pid, PROMPT, {"create_time": 1}, ["1"], **kw)


def test_claim_a_chosen_job_counts_attempts_and_requeue_keeps_its_place(tmp_path):
    s = JobStore(tmp_path / "a.db")
    for pid in ("a", "b", "c"):
        submit(s, pid)
    assert [j.prompt_id for j in s.pending_jobs(2)] == ["a", "b"]
    assert s.claim("w1", prompt_id="b").prompt_id == "b"
    assert s.claim("w2", prompt_id="b") is None  # already running
    assert s.claim("w2", prompt_id="nope") is None
    assert s.attempts("b") == 1 and s.attempts("a") == 0 and s.attempts("nope") == 0
    assert [item[1] for item in s.queue()[0]] == ["b"]
    assert not s.requeue("b", "w2")  # not the worker running it
    assert s.requeue("b", "w1")
    assert [j.prompt_id for j in s.pending_jobs(10)] == ["a", "b", "c"]
    assert s.claim("w2", prompt_id="b").prompt_id == "b" and s.attempts("b") == 2
    s.close()


def test_recover_by_attempts(tmp_path):
    path = tmp_path / "r.db"
    s = JobStore(path)
    submit(s, "once")
    submit(s, "twice")
    s.claim("w", prompt_id="twice")
    s.requeue("twice", "w")
    s.claim("w", prompt_id="twice")
    s.claim("w", prompt_id="once")
    s.close()  # the server dies with both running
    s2 = JobStore(path)
    assert sorted(s2.recover(max_attempts=2)) == [("once", "requeued"), ("twice", "failed")]
    assert [j.prompt_id for j in s2.pending_jobs(10)] == ["once"]
    name, data = s2.history_item("twice")["status"]["messages"][-1]
    assert name == "execution_error"
    assert data["exception_message"] == f"{STOPPED_REASON} (attempt 2 of 2)"
    s2.close()


def test_database_without_attempts_column_opens(tmp_path):
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE jobs (seq INTEGER PRIMARY KEY AUTOINCREMENT, prompt_id TEXT UNIQUE NOT NULL,
            number NOT NULL, prompt TEXT NOT NULL, extra_data TEXT NOT NULL, outputs TEXT NOT NULL,
            state TEXT NOT NULL, create_time INTEGER, workflow_id TEXT, worker_id TEXT,
            lease_expires REAL, history_seq INTEGER, result TEXT, job_status TEXT,
            exec_start INTEGER, exec_end INTEGER);
        INSERT INTO jobs (prompt_id, number, prompt, extra_data, outputs, state)
            VALUES ('old', 0, '{}', '{}', '[]', 'pending');""")
    db.commit()
    db.close()
    s = JobStore(path)
    assert s.claim("w").prompt_id == "old" and s.attempts("old") == 1
    s.close()
