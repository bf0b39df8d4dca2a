"""JobStore's SQLite connection: a bounded page cache; per-job calls read indexes, never the
whole table (which both costs time and churns the page cache as history grows)."""

import pytest

from comfy_core.jobs.store import PAGE_CACHE_KIB, JobStore

PROMPT = {"1": {"class_type": "X", "inputs": {}}}
STATUS = {"status_str": "success", "completed": True,
          "messages": [["execution_start", {"timestamp": 1}],
                       ["execution_success", {"timestamp": 2}]]}


@pytest.fixture
def store(tmp_path):
    s = JobStore(tmp_path / "jobs.sqlite3", max_history=2)
    yield s
    s.close()


def test_page_cache_is_bounded(store):
    assert PAGE_CACHE_KIB <= 1024
    assert store._db.execute("PRAGMA cache_size").fetchone()[0] == -PAGE_CACHE_KIB


def _one_job(store, prompt_id):
    store.submit(prompt_id, PROMPT, {}, ["1"])
    store.wait_for_work(0)
    job = store.claim("w")
    store.heartbeat("w", job.prompt_id)
    store.queue()
    store.remaining()
    store.complete(job.prompt_id, {}, STATUS, {})
    store.history_item(prompt_id)
    store.history(max_items=1)


def test_per_job_calls_never_scan_the_jobs_table(store):
    for i in range(3):  # fills history past its cap of 2, so trimming runs too
        _one_job(store, f"warm{i}")
    statements = []
    store._db.set_trace_callback(statements.append)
    _one_job(store, "traced")
    store._db.set_trace_callback(None)
    queries = [s for s in statements if s.lstrip().upper().startswith(("SELECT", "UPDATE",
                                                                        "DELETE"))]
    assert any(q.startswith("DELETE") for q in queries)  # the history trim was traced
    for query in queries:
        plan = " | ".join(row[3] for row in store._db.execute("EXPLAIN QUERY PLAN " + query))
        assert "SCAN jobs" not in plan, (query, plan)
        if "ORDER BY history_seq" in query:  # walks the history index, sorts nothing
            assert "TEMP B-TREE" not in plan, (query, plan)
