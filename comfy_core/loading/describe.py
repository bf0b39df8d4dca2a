"""What a weight file looks like, from its key names: for errors that say "expected a
ControlNet, got an SD checkpoint" instead of a list of missing keys."""

from __future__ import annotations

from typing import Callable, Iterable

Rule = tuple[str, Callable[[set[str]], bool]]


def _has_prefix(keys: set[str], *prefixes: str) -> bool:
    return any(k.startswith(prefixes) for k in keys)


def _has_suffix(keys: set[str], *suffixes: str) -> bool:
    return any(k.endswith(suffixes) for k in keys)


# First match wins: more specific kinds come first.
_RULES: tuple[Rule, ...] = (
    ("a Control-LoRA", lambda k: "lora_controlnet" in k),
    ("a ControlNet", lambda k: _has_prefix(k, "control_model.zero_convs.", "zero_convs.",
                                           "controlnet_cond_embedding.", "controlnet_down_blocks.")),
    ("a T2I-Adapter", lambda k: _has_prefix(k, "adapter.body.") or "body.0.in_conv.weight" in k
     or ("conv_in.weight" in k and "body.0.block1.weight" in k)),
    ("a LoRA", lambda k: _has_suffix(k, ".lora_up.weight", ".lora_down.weight", ".lora_A.weight",
                                      ".lora_B.weight", ".hada_w1_a", ".lokr_w1")),
    ("a Stable Diffusion checkpoint", lambda k: _has_prefix(k, "model.diffusion_model.")),
    ("a diffusion model (UNet)", lambda k: "input_blocks.0.0.weight" in k and "out.2.weight" in k),
    ("a diffusers UNet", lambda k: "conv_in.weight" in k and _has_prefix(k, "down_blocks.")
     and _has_prefix(k, "up_blocks.")),
    ("a VAE", lambda k: _has_prefix(k, "encoder.", "decoder.", "first_stage_model.")
     and _has_suffix(k, "conv_in.weight")),
    ("a CLIP text encoder", lambda k: _has_prefix(k, "text_model.", "transformer.resblocks.",
                                                  "cond_stage_model.")),
    ("an upscale model", lambda k: "conv_first.weight" in k or "model.1.sub.0.RDB1.conv1.0.weight" in k
     or ("body.0.weight" in k and "body.1.weight" in k)),
)


def describe_weights(state: Iterable[str]) -> str:
    """A short phrase naming the kind of model whose state-dict keys are `state`."""
    keys = set(state)
    for phrase, rule in _RULES:
        if rule(keys):
            return phrase
    sample = ", ".join(sorted(keys)[:3])
    return f"an unknown model ({len(keys)} tensors, e.g. {sample})" if keys else "an empty file"
