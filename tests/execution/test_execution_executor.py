import threading

from PIL import Image

from comfy_core import runtime
from exec_nodes import Harness, chain_prompt


def test_first_run_executes_everything_and_reports_ui():
    h = Harness()
    result = h.run(chain_prompt())
    assert result.status_str == "success" and result.completed and result.error is None
    assert h.executing() == ["1", "2", "3", "4"]
    assert result.outputs == {"4": {"values": [11]}}
    assert result.meta == {"4": {"node_id": "4", "display_node": "4", "parent_node": None,
                                 "real_node_id": "4"}}
    assert [m[0] for m in result.messages] == ["execution_start", "execution_cached", "execution_success"]
    assert all("timestamp" in m[1] for m in result.messages)
    assert h.of_type("executed") == [{"node": "4", "display_node": "4", "output": {"values": [11]},
                                      "prompt_id": "p1"}]
    assert "executing" not in [e.type for e in h.events if e.data.get("node") is None]


def test_unchanged_prompt_executes_nothing_and_resends_cached_ui():
    h = Harness()
    h.run(chain_prompt())
    result = h.run(chain_prompt(), prompt_id="p2")
    assert h.executing() == []
    assert h.of_type("execution_cached")[0]["nodes"] == ["1", "2", "3", "4"]
    assert h.of_type("executed") == [{"node": "4", "display_node": "4", "output": {"values": [11]},
                                      "prompt_id": "p2"}]
    assert result.outputs == {"4": {"values": [11]}}


def test_changing_one_constant_reruns_it_and_dependents_only():
    h = Harness()
    h.run(chain_prompt(1))
    result = h.run(chain_prompt(5))
    assert h.executing() == ["1", "3", "4"]
    assert result.outputs["4"] == {"values": [15]}


def test_identical_nodes_share_a_result():
    h = Harness()
    prompt = chain_prompt()
    prompt["2"]["inputs"]["value"] = 1  # now identical to node 1
    h.run(prompt)
    assert h.executing() == ["1", "3", "4"]
    assert h.run(prompt).outputs["4"] == {"values": [2]}


def test_is_changed_nan_always_reruns():
    h = Harness()
    prompt = chain_prompt()
    prompt["1"]["class_type"] = "Volatile"
    h.run(prompt)
    h.run(prompt)
    assert h.executing() == ["1", "3", "4"]


def test_cache_none_reruns_everything():
    h = Harness("none")
    h.run(chain_prompt())
    h.run(chain_prompt())
    assert h.executing() == ["1", "2", "3", "4"]


def test_classic_keeps_only_the_latest_prompt():
    h = Harness("classic")
    h.run(chain_prompt(1))
    h.run(chain_prompt(2))
    h.run(chain_prompt(1))
    assert h.executing() == ["1", "3", "4"]  # the value-1 entries were dropped


def test_lru_keeps_entries_across_prompts():
    h = Harness("lru", lru_size=10)
    h.run(chain_prompt(1))
    h.run(chain_prompt(2))
    h.run(chain_prompt(1))
    assert h.executing() == []
    assert len(h.executor.cache) <= 10


def test_list_mapping_and_input_is_list():
    h = Harness()
    prompt = {"1": {"class_type": "Range", "inputs": {"count": 3}},
              "2": {"class_type": "Number", "inputs": {"value": 10}},
              "3": {"class_type": "Add", "inputs": {"a": ["1", 0], "b": ["2", 0]}},
              "4": {"class_type": "Show", "inputs": {"value": ["3", 0]}},
              "5": {"class_type": "ShowList", "inputs": {"value": ["3", 0]}}}
    result = h.run(prompt)
    assert result.outputs["4"] == {"values": [10, 11, 12]}  # three calls, UI merged
    assert result.outputs["5"] == {"values": [[10, 11, 12]]}  # one call with the list


def test_lazy_inputs_run_only_the_needed_branch():
    h = Harness()
    prompt = {"1": {"class_type": "Number", "inputs": {"value": 1}},
              "2": {"class_type": "Fail", "inputs": {"value": 2}},
              "3": {"class_type": "Switch", "inputs": {"pick_a": True, "a": ["1", 0], "b": ["2", 0]}},
              "4": {"class_type": "Show", "inputs": {"value": ["3", 0]}}}
    result = h.run(prompt)
    assert result.status_str == "success", result.error
    assert "2" not in h.executing()
    assert result.outputs["4"] == {"values": [1]}


def test_node_expansion():
    h = Harness()
    prompt = {"1": {"class_type": "Number", "inputs": {"value": 4}},
              "2": {"class_type": "Double", "inputs": {"x": ["1", 0]}},
              "3": {"class_type": "Show", "inputs": {"value": ["2", 0]}}}
    result = h.run(prompt)
    assert result.status_str == "success", result.error
    assert result.outputs["3"] == {"values": [8]}
    assert result.outputs["2.show"] == {"values": [8]}
    assert result.meta["2.show"] == {"node_id": "2.show", "display_node": "2", "parent_node": "2",
                                     "real_node_id": "2"}
    executing = {d["node"]: d["display_node"] for d in h.of_type("executing")}
    assert executing["2.add"] == "2"
    h.run(prompt)
    assert h.executing() == []


def test_errors_become_execution_error():
    h = Harness()
    prompt = chain_prompt()
    prompt["2"]["class_type"] = "Fail"
    result = h.run(prompt)
    assert result.status_str == "error" and not result.completed
    err = result.error
    assert result.messages[-1] == ["execution_error", err]
    assert err["node_id"] == "2" and err["node_type"] == "Fail"
    assert err["exception_type"] == "ValueError" and err["exception_message"] == "bad value 10\n"
    assert err["current_inputs"] == {"value": [10]}
    assert err["executed"] == ["1"] and "1" in err["current_outputs"]
    assert err["traceback"] and isinstance(err["traceback"][0], str)
    assert set(err) == {"prompt_id", "node_id", "node_type", "executed", "exception_message",
                        "exception_type", "traceback", "current_inputs", "current_outputs", "timestamp"}
    assert "3" not in h.executing()


def test_interrupt_between_nodes():
    h = Harness()
    h.interrupt.set()
    result = h.run(chain_prompt())
    assert result.status_str == "error" and not result.completed
    assert result.messages[-1][0] == "execution_interrupted"
    assert set(result.error) == {"prompt_id", "node_id", "node_type", "executed", "timestamp"}
    assert h.executing() == []
    assert not h.interrupt.is_set()  # cleared once handled, like ComfyUI


def test_interrupt_inside_a_node_and_progress_events():
    h = Harness()
    prompt = {"1": {"class_type": "Slow", "inputs": {"value": 1}},
              "2": {"class_type": "Show", "inputs": {"value": ["1", 0]}}}
    result = h.run(prompt)
    assert [(d["value"], d["max"], d["node"]) for d in h.of_type("progress")] == [(1, 3, "1"), (2, 3, "1"), (3, 3, "1")]
    last_state = h.of_type("progress_state")[-1]["nodes"]
    assert last_state["1"]["state"] == "finished" and last_state["2"]["state"] == "finished"

    class Trip(threading.Event):
        """Becomes set once the node reports its first step."""
        calls = 0

        def is_set(self):
            Trip.calls += 1
            return Trip.calls > 3

    h.executor.reset_cache()
    h.interrupt = Trip()
    result = h.run(prompt)
    assert result.messages[-1][0] == "execution_interrupted"
    assert result.error["node_id"] == "1"


def test_preview_events_are_encoded():
    h = Harness()

    class Previewer:
        RETURN_TYPES = ()
        OUTPUT_NODE = True
        FUNCTION = "run"

        @classmethod
        def INPUT_TYPES(cls):
            return {"required": {}}

        def run(self):
            runtime.job().progress(1, 2, ("JPEG", Image.new("RGB", (64, 32), "red"), 16))
            runtime.job().progress(2, 2, ("PNG", Image.new("RGBA", (8, 8)), 0))
            return {}

    h.registry.register("Previewer", Previewer)
    h.run({"1": {"class_type": "Previewer", "inputs": {}}})
    previews = [e for e in h.events if e.type == "preview"]
    assert [p.data["image_type"] for p in previews] == ["image/jpeg", "image/png"]
    assert previews[0].binary[:2] == b"\xff\xd8" and previews[1].binary[:4] == b"\x89PNG"
    assert previews[0].data["node_id"] == "1" and previews[0].data["real_node_id"] == "1"


def test_blocker_with_message_reports_and_continues():
    h = Harness()
    prompt = {"1": {"class_type": "Gate", "inputs": {"value": 1, "message": "stopped"}},
              "2": {"class_type": "Show", "inputs": {"value": ["1", 0]}},
              "3": {"class_type": "Number", "inputs": {"value": 3}},
              "4": {"class_type": "Show", "inputs": {"value": ["3", 0]}}}
    result = h.run(prompt)
    assert result.status_str == "success"
    blocked = h.of_type("execution_error")
    assert len(blocked) == 1 and blocked[0]["exception_type"] == "ExecutionBlocked"
    assert blocked[0]["exception_message"] == "Execution Blocked: stopped"
    assert "2" not in result.outputs and result.outputs["4"] == {"values": [3]}


def test_hidden_inputs_and_instance_reuse():
    h = Harness()
    seen = []

    class Hidden:
        RETURN_TYPES = ()
        OUTPUT_NODE = True
        FUNCTION = "run"
        NOT_IDEMPOTENT = True

        def __init__(self):
            self.calls = 0

        @classmethod
        def INPUT_TYPES(cls):
            return {"required": {}, "hidden": {"prompt": "PROMPT", "png": "EXTRA_PNGINFO",
                                               "uid": "UNIQUE_ID", "dyn": "DYNPROMPT"}}

        @classmethod
        def IS_CHANGED(cls, **kwargs):
            return float("nan")

        def run(self, prompt, png, uid, dyn):
            self.calls += 1
            seen.append((sorted(prompt), png, uid, dyn.get_node(uid)["class_type"], self.calls))
            return {}

    h.registry.register("Hidden", Hidden)
    prompt = {"7": {"class_type": "Hidden", "inputs": {}}}
    extra = {"extra_pnginfo": {"workflow": {"nodes": []}}}
    h.run(prompt, extra_data=extra)
    h.run(prompt, extra_data=extra)
    assert seen == [(["7"], extra["extra_pnginfo"], "7", "Hidden", 1),
                    (["7"], extra["extra_pnginfo"], "7", "Hidden", 2)]


def test_emit_failures_do_not_escape():
    h = Harness()

    def boom(event):
        raise RuntimeError("socket gone")

    from comfy_core.graph import validate_prompt
    v = validate_prompt(h.registry, chain_prompt())
    result = h.executor.run(v.prompt, "p", {}, v.outputs, boom, threading.Event())
    assert result.status_str == "success"
