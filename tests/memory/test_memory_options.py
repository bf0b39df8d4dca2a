from types import SimpleNamespace

import pytest

from comfy_core.memory import MemoryOptions, VramState
from comfy_core.memory.options import GIB


def test_defaults_from_an_empty_settings_object():
    options = MemoryOptions.from_settings(SimpleNamespace())
    assert options == MemoryOptions()
    assert options.vram_state == VramState.NORMAL_VRAM
    assert options.reserve_bytes is None and options.smart_memory


@pytest.mark.parametrize(
    ("flag", "state"),
    [
        ("cpu", VramState.DISABLED),
        ("gpu_only", VramState.HIGH_VRAM),
        ("highvram", VramState.HIGH_VRAM),
        ("normalvram", VramState.NORMAL_VRAM),
        ("lowvram", VramState.LOW_VRAM),
        ("novram", VramState.NO_VRAM),
    ],
)
def test_vram_flags(flag, state):
    assert MemoryOptions.from_settings(SimpleNamespace(**{flag: True})).vram_state == state


def test_gpu_only_is_also_kept_as_a_flag():
    options = MemoryOptions.from_settings(SimpleNamespace(gpu_only=True, highvram=True))
    assert options.gpu_only and options.vram_state == VramState.HIGH_VRAM


def test_conflicting_vram_flags_are_named():
    with pytest.raises(ValueError, match="--lowvram, --novram"):
        MemoryOptions.from_settings(SimpleNamespace(lowvram=True, novram=True))


def test_reserve_dtype_and_smart_memory_flags():
    settings = SimpleNamespace(
        reserve_vram=1.5,
        force_fp16=True,
        bf16_unet=True,
        fp32_vae=True,
        fp32_text_enc=True,
        cpu_vae=True,
        disable_smart_memory=True,
    )
    options = MemoryOptions.from_settings(settings)
    assert options.reserve_bytes == int(1.5 * GIB)
    assert options.force_fp16 and not options.force_fp32
    assert (options.unet_dtype, options.vae_dtype, options.text_encoder_dtype) == (
        "bfloat16", "float32", "float32",
    )
    assert options.cpu_vae and not options.smart_memory


def test_false_and_none_attributes_mean_defaults():
    settings = SimpleNamespace(reserve_vram=None, lowvram=False, fp16_unet=False, cpu=False)
    assert MemoryOptions.from_settings(settings) == MemoryOptions()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (SimpleNamespace(fp16_vae=True, bf16_vae=True), "--fp16-vae, --bf16-vae"),
        (SimpleNamespace(force_fp16=True, force_fp32=True), "force_fp16 and force_fp32"),
    ],
)
def test_conflicting_dtype_flags(settings, message):
    with pytest.raises(ValueError, match=message):
        MemoryOptions.from_settings(settings)


def test_invalid_values_are_rejected():
    with pytest.raises(ValueError, match="unet_dtype='half'"):
        MemoryOptions(unet_dtype="half")
    with pytest.raises(ValueError, match="reserve_bytes"):
        MemoryOptions(reserve_bytes=-1)


def test_options_are_frozen():
    with pytest.raises(AttributeError):
        MemoryOptions().cpu_vae = True


def test_reads_the_real_settings_flags():
    from comfy_core.settings import MemoryFlags

    assert MemoryOptions.from_settings(MemoryFlags()) == MemoryOptions()
    options = MemoryOptions.from_settings(MemoryFlags(lowvram=True, fp16_vae=True, reserve_vram=0.5))
    assert options.vram_state == VramState.LOW_VRAM
    assert options.vae_dtype == "float16" and options.reserve_bytes == GIB // 2
