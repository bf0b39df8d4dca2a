"""The fixed inputs of Lotus-D (He et al. 2024, "Lotus: Diffusion-based Visual Foundation
Model for High-quality Dense Prediction"), besides the image latent:

- the task switcher `y`: the UNet's class-label input, [sin s, cos s] of the switch
  s = (1, 0) ("annotate", not "reconstruct"), so (sin 1, sin 0, cos 1, cos 0);
- the text tokens: the model was tuned with one fixed prompt, SD2's OpenCLIP-H text
  encoder's output for the empty prompt without padding (start and end token: [1, 2, 1024]).
  The encoder is not needed to run the model, so its output ships as data
  (`data/lotus_empty_prompt.safetensors`, float16 as published).
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file

EMPTY_PROMPT_FILE = Path(__file__).with_name("data") / "lotus_empty_prompt.safetensors"
EMPTY_PROMPT_KEY = "prompt_embeds"
TASK_SWITCH = (1.0, 0.0)  # annotation (depth / normal), as opposed to (0, 1): reconstruction


def lotus_task_embedding(batch: int = 1) -> torch.Tensor:
    """The task switcher [batch, 4]: sin then cos of TASK_SWITCH (float32)."""
    switch = torch.tensor(TASK_SWITCH, dtype=torch.float32)
    return torch.cat([switch.sin(), switch.cos()]).unsqueeze(0).repeat(batch, 1)


def lotus_empty_prompt() -> torch.Tensor:
    """The empty prompt's text tokens [1, 2, 1024] (float32) Lotus was tuned with."""
    return load_file(str(EMPTY_PROMPT_FILE))[EMPTY_PROMPT_KEY].float()
