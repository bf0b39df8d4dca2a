"""GLIGEN fusers and position net against diffusers' GLIGEN modules on the same weights."""

from __future__ import annotations

import pytest
import torch
from diffusers.models.attention import GatedSelfAttentionDense
from diffusers.models.embeddings import GLIGENTextBoundingboxProjection

from comfy_core.loading.gligen import load_gligen
from comfy_core.loading.safetensors_io import CheckpointError, save_state_dict
from comfy_core.tools.make_gligen import random_gligen_state, write_gligen


def test_fusers_and_position_net_match_diffusers(tmp_path) -> None:
    path = write_gligen(tmp_path / "g.safetensors", seed=1)
    gligen = load_gligen(path)
    state = random_gligen_state(seed=1)
    assert len(gligen.module_list) == 7
    prefix = "output_blocks.0.1.transformer_blocks.0.fuser."
    ref = GatedSelfAttentionDense(64, 32, 1, 64).eval()
    ref.load_state_dict({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)})
    gen = torch.Generator().manual_seed(2)
    x, objs = torch.randn(2, 16, 64, generator=gen), torch.randn(2, 30, 32, generator=gen)
    with torch.no_grad():
        torch.testing.assert_close(gligen.module_list[3](x, objs), ref(x, objs), rtol=1e-5, atol=1e-5)
    net = GLIGENTextBoundingboxProjection(32, 32).eval()
    net.load_state_dict({k[len("position_net."):]: v for k, v in state.items() if k.startswith("position_net.")})
    phrase = torch.randn(1, 32, generator=gen)
    tokens = gligen.grounding_tokens((2, 4, 8, 16), [(phrase, 4, 8, 2, 4)], torch.device("cpu"))
    boxes = torch.zeros(2, 30, 4)
    boxes[:, 0] = torch.tensor([4 / 16, 2 / 8, 12 / 16, 6 / 8])
    masks = torch.zeros(2, 30)
    masks[:, 0] = 1
    phrases = torch.zeros(2, 30, 32)
    phrases[:, 0] = phrase
    with torch.no_grad():
        torch.testing.assert_close(tokens, net(boxes, masks, positive_embeddings=phrases), rtol=1e-5, atol=1e-5)


def test_zero_gates_leave_tokens_unchanged(tmp_path) -> None:
    state = random_gligen_state(seed=0)
    for key in state:
        if key.endswith(("alpha_attn", "alpha_dense")):
            state[key] = torch.tensor(0.0)
    save_state_dict(state, tmp_path / "g0.safetensors")
    gligen = load_gligen(tmp_path / "g0.safetensors")
    x = torch.randn(1, 4, 32)
    objs = gligen.grounding_tokens((1, 4, 8, 8), None, torch.device("cpu"))
    with torch.no_grad():
        torch.testing.assert_close(gligen.middle_patch(objs)(x, {"transformer_index": 0}), x)


def test_not_a_gligen_file(tmp_path) -> None:
    save_state_dict({"style_embedding": torch.zeros(1, 2, 4), "proj": torch.zeros(4, 4)}, tmp_path / "style.safetensors")
    with pytest.raises(CheckpointError, match=r"style\.safetensors: expected a GLIGEN model"):
        load_gligen(tmp_path / "style.safetensors")
