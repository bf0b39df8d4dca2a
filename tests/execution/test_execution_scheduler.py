from comfy_core.execution.scheduler import Schedule


def test_ready_order_prefers_outputs_then_their_feeders():
    outputs = {"out"}
    s = Schedule(lambda n: n in outputs)
    for n in ("far", "near", "out", "free"):
        s.stage(n)
    s.add_dependency("out", "near")
    s.add_dependency("near2", "far")
    s.stage("near2")
    s.add_dependency("out", "near2")
    assert s.next_ready() == "near"  # feeds the output directly
    s.complete("near")
    assert s.next_ready() == "far"  # two hops from the output
    s.complete("far")
    assert s.next_ready() == "near2"
    s.complete("near2")
    assert s.next_ready() == "out"
    s.complete("out")
    assert s.next_ready() == "free" and len(s) == 1
    s.complete("free")
    assert s.next_ready() is None and len(s) == 0


def test_nodes_waiting_on_each_other_are_reported():
    s = Schedule(lambda n: False)
    s.stage("a")
    s.stage("b")
    s.add_dependency("a", "b")
    s.add_dependency("b", "a")
    assert s.next_ready() is None and s.blocked() == ["a", "b"]
