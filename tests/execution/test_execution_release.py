"""A finished run frees its node values by reference counting alone (no cyclic GC)."""

import gc

from exec_nodes import Harness, chain_prompt


def test_finished_runs_leave_no_reference_cycles():
    h = Harness()
    h.run(chain_prompt(0))
    gc.collect()
    gc.disable()
    try:
        for value in range(1, 4):
            result = h.run(chain_prompt(value), prompt_id=f"p{value}")
            assert result.status_str == "success"
        prompt = chain_prompt(9)
        prompt["1"]["class_type"] = "Fail"
        failed = h.run(prompt, prompt_id="bad")
        assert failed.status_str == "error"
        del result, failed
        assert gc.collect() == 0
    finally:
        gc.enable()
