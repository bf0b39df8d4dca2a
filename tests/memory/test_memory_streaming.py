import pytest
import torch
from torch import nn

from comfy_core.memory.streaming import find_layers, module_bytes, plan_residency, stream_layers
from tiny_managed import LINEAR8_BYTES, linear_stack

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


class Net(nn.Module):
    """Layers of different sizes, a buffer-only layer (BatchNorm) and a tied weight."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.small = nn.Linear(8, 4)  # 36 floats
        self.big = nn.Linear(4, 32)  # 160 floats
        self.norm = nn.BatchNorm1d(32)
        self.out = nn.Linear(32, 4)
        self.tied = nn.Linear(32, 4)
        self.tied.weight = self.out.weight
        self.norm.running_mean.uniform_(-1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm(self.big(self.small(x)))  # (B, 32)
        return self.out(h) + self.tied(h)


def reference(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return module(x)


def hook_count(module: nn.Module) -> int:
    return sum(len(m._forward_pre_hooks) + len(m._forward_hooks) for m in module.modules())


def test_layers_count_shared_tensors_once():
    net = Net().eval()
    layers = find_layers(net)
    assert [(l.name, l.shared) for l in layers] == [
        ("small", False), ("big", False), ("norm", False), ("out", False), ("out", True), ("tied", False)
    ]
    assert [attr for attr, _ in layers[4].tensors] == ["weight"]
    assert [attr for attr, _ in layers[-1].tensors] == ["bias"]
    distinct = {id(t): t for t in [*net.parameters(), *net.buffers()]}
    assert module_bytes(net) == sum(t.numel() * t.element_size() for t in distinct.values())


@pytest.mark.parametrize(("order", "expected"), [("largest", ["1"]), ("first", ["0", "2"])])
def test_plan_respects_budget_and_order(order, expected):
    torch.manual_seed(0)
    layers = find_layers(nn.Sequential(nn.Linear(8, 4), nn.Linear(4, 32), nn.Linear(32, 4)))
    assert [l.nbytes for l in layers] == [144, 640, 528]
    resident, streamed = plan_residency(layers, 700, order)
    assert [l.name for l in resident] == expected
    assert sum(l.nbytes for l in resident) <= 700
    assert [l.name for l in streamed] == [l.name for l in layers if l.name not in expected]


def test_shared_weights_stay_resident_even_with_no_budget():
    layers = find_layers(Net())
    resident, streamed = plan_residency(layers, 0)
    assert [(l.name, l.shared) for l in resident] == [("out", True)]
    assert all(not l.shared for l in streamed)


def test_plan_rejects_unknown_order():
    with pytest.raises(ValueError, match="order"):
        plan_residency([], 0, "random")


@pytest.mark.parametrize("budget", [0, 700, 10**9])
def test_streamed_forward_matches_and_undo_restores(budget):
    net = Net().eval()
    x = torch.randn(3, 8, generator=torch.Generator().manual_seed(3))
    expected = reference(net, x)
    params_before = {n: (p, p.detach().clone()) for n, p in net.named_parameters()}
    fetched = []
    handle = stream_layers(net, "cpu", budget, on_fetch=lambda n, t: fetched.append(n) or t)
    assert handle.resident_bytes <= max(budget, 4 * 32 * 4)  # the tied weight always stays
    assert handle.resident_bytes + handle.streamed_bytes == module_bytes(net)
    assert torch.equal(reference(net, x), expected)
    streamed_names = {f"{l.name}.{attr}" for l in handle.streamed for attr, _ in l.tensors}
    assert set(fetched) == streamed_names
    assert hook_count(net) == 2 * len(handle.streamed)
    handle.undo()
    handle.undo()
    assert hook_count(net) == 0
    for name, param in net.named_parameters():
        original, values = params_before[name]
        assert param is original and torch.equal(param, values)
    assert torch.equal(reference(net, x), expected)


def test_on_fetch_can_cast_to_compute_dtype():
    net = linear_stack(2).half()
    x = torch.randn(2, 8, generator=torch.Generator().manual_seed(4))
    expected = reference(linear_stack(2).half().float(), x)
    handle = stream_layers(net, "cpu", 0, on_fetch=lambda n, t: t.float())
    assert torch.equal(reference(net, x), expected)
    assert all(p.dtype == torch.float16 for p in net.parameters())  # storage unchanged
    handle.undo()


def test_error_inside_forward_still_drops_the_fetched_copy():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(8, 8), nn.Linear(7, 8))  # layer 1 fails on (B, 8) input
    host_ptr = net[1].weight.data_ptr()
    fetched_ptrs = []

    def fetch(name, t):
        copy = t.clone()
        fetched_ptrs.append(copy.data_ptr())
        return copy

    handle = stream_layers(net, "cpu", 0, on_fetch=fetch)
    with pytest.raises(RuntimeError):
        reference(net, torch.randn(2, 8))
    assert len(fetched_ptrs) == 4  # both layers were fetched before layer 1 failed
    assert net[1].weight.data_ptr() == host_ptr
    handle.undo()
    assert net[1].weight.data_ptr() == host_ptr and hook_count(net) == 0


def test_negative_budget_is_an_error():
    with pytest.raises(ValueError, match="budget_bytes"):
        stream_layers(linear_stack(1), "cpu", -1)


@CUDA
@pytest.mark.parametrize("pin", [False, True])
def test_cuda_streaming_keeps_budget_on_device(pin):
    net = Net().eval()
    x = torch.randn(3, 8, generator=torch.Generator().manual_seed(5))
    expected = reference(net, x)
    handle = stream_layers(net, "cuda", 700, pin_memory=pin)
    on_gpu = sum(t.numel() * t.element_size() for t in {id(t): t for t in
                 [*net.parameters(), *net.buffers()] if t.is_cuda}.values())
    assert on_gpu == handle.resident_bytes <= 700
    for layer in handle.streamed:
        for attr, _ in layer.tensors:
            tensor = getattr(layer.module, attr)
            assert tensor.device.type == "cpu" and tensor.is_pinned() == pin
    torch.testing.assert_close(reference(net, x.cuda()).cpu(), expected)
    handle.undo()
    assert all(not t.is_cuda for t in [*net.parameters(), *net.buffers()])


def test_linear_stack_size_constant():
    assert module_bytes(linear_stack(1)) == LINEAR8_BYTES
