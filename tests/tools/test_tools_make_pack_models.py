"""The tiny model files made for trying packs, read back with independent readers: the
GGUF UNet with the gguf package's own reader and dequantizer, the IP-Adapter by its
layout against the checkpoint it was made for."""

import numpy as np
import torch

from comfy_core.loading.safetensors_io import load_state_dict
from comfy_core.tools.make_clip_vision import write_clip_vision
from comfy_core.tools.make_pack_models import IPADAPTER_SD15_BLOCKS, UNET_PREFIX, write_gguf_unet, write_ipadapter
from tests.fixtures.checkpoints import make_tiny_checkpoint


def test_gguf_unet_reads_back_with_ggufs_reader(tmp_path):
    import gguf

    ckpt = make_tiny_checkpoint("sd15", tmp_path)
    path = write_gguf_unet(ckpt, tmp_path / "unet.gguf")
    reader = gguf.GGUFReader(str(path))
    arch = reader.get_field("general.architecture")
    assert bytes(arch.parts[arch.data[-1]]).decode() == "sd1"
    unet = {k[len(UNET_PREFIX):]: v for k, v in load_state_dict(ckpt).items() if k.startswith(UNET_PREFIX)}
    tensors = {t.name: t for t in reader.tensors}
    assert set(tensors) == set(unet)
    kinds = set()
    for name, tensor in tensors.items():
        want = unet[name].float().numpy()
        kinds.add(tensor.tensor_type.name)
        got = gguf.quants.dequantize(tensor.data, tensor.tensor_type).reshape(want.shape)
        tolerance = np.abs(want).max() / 127 + 1e-3  # Q8_0: one step of a block's scale
        assert np.allclose(got, want, atol=tolerance), name
    assert {"Q8_0", "F16", "F32"} <= kinds


def test_ipadapter_layers_are_as_wide_as_the_attention_they_patch(tmp_path):
    ckpt = make_tiny_checkpoint("sd15", tmp_path)
    vision = write_clip_vision("vit-h", tmp_path / "vision.safetensors")
    state = load_state_dict(write_ipadapter(ckpt, vision, tmp_path / "ipa.safetensors"))
    unet = load_state_dict(ckpt)
    context = unet[f"{UNET_PREFIX}input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight"].shape[1]
    embed = load_state_dict(vision)["visual_projection.weight"].shape[0]
    assert state["image_proj.proj.weight"].shape == (4 * context, embed)
    assert len([k for k in state if k.startswith("ip_adapter.")]) == 2 * len(IPADAPTER_SD15_BLOCKS) == 32
    for n, (kind, index) in enumerate(IPADAPTER_SD15_BLOCKS):
        block = kind if index is None else f"{kind}.{index}"
        key = f"{UNET_PREFIX}{block}.1.transformer_blocks.0.attn2.to_k.weight"
        weight = state[f"ip_adapter.{2 * n + 1}.to_k_ip.weight"]
        assert weight.shape[1] == context
        if key in unet:  # the blocks the tiny UNet has
            assert weight.shape[0] == unet[key].shape[0], key
    assert torch.equal(state["image_proj.norm.weight"], torch.ones(context))


def test_narrow_sd15_has_sd15s_blocks_and_loads_as_sd15(tmp_path):
    from comfy_core.loading.checkpoint import load_checkpoint
    from comfy_core.tools.make_pack_models import write_narrow_sd15

    ckpt = load_checkpoint(write_narrow_sd15(tmp_path / "narrow.safetensors"))
    unet = ckpt.model.model.diffusion_model
    assert ckpt.model.model.family.name == "sd15"
    assert len(unet.input_blocks) == 12 and len(unet.output_blocks) == 12
    assert unet.input_blocks[1][1].transformer_blocks[0].attn2.to_k.weight.shape == (32, 32)
