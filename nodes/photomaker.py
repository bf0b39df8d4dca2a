"""PhotoMaker nodes (ComfyUI's comfy_extras.nodes_photomaker, V3 schema): the ID encoder
loader and the encode node that fuses a face into the prompt's embedding.

As ComfyUI does it: the trigger word's position p among the space-separated words of the
text (1-based) is matched against the CLIP's token word ids and tokens with word id p are
removed (each chunk padded with its last token), the prompt is encoded, and the token at
position p - 1 of the first chunk (the class word before the trigger, when every word is
one token) is fused with the first image's identity. The tokenizer numbers words by prompt
segment (weights, embeddings), not by spaces, so in a plain prompt nothing is removed and
the trigger word stays in the prompt, as in ComfyUI."""

from __future__ import annotations

import torch

from comfy_core.loading.photomaker import load_photomaker
from comfy_core.models.clip_vision import clip_preprocess
from comfy_core.registry.v3 import io
from nodes.common import folders, model_files

TRIGGER = "photomaker"
PHOTOMAKER = "comfy_extras.nodes_photomaker"


class PhotoMakerLoader(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = PHOTOMAKER

    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="PhotoMakerLoader", category="_for_testing/photomaker",
                         inputs=[io.Combo.Input("photomaker_model_name", options=model_files("photomaker"))],
                         outputs=[io.Photomaker.Output()], is_experimental=True)

    @classmethod
    def execute(cls, photomaker_model_name):
        model = load_photomaker(folders().get_full_path_or_raise("photomaker", photomaker_model_name))
        model.load_device = torch.device("cpu")
        return io.NodeOutput(model)

    load_photomaker_model = execute


def _without_word(tokens: dict, word: int) -> dict:
    """Token chunks without the tokens of word id `word`, each padded back with its last pair."""
    out = {}
    for key, chunks in tokens.items():
        out[key] = []
        for chunk in chunks:
            kept = [pair for pair in chunk if pair[2] != word]
            out[key].append(kept + [chunk[-1]] * (len(chunk) - len(kept)))
    return out


def photomaker_encode(photomaker, image: torch.Tensor, clip, text: str) -> list:
    """CONDITIONING of `text` with the class word fused with the face in `image`."""
    words = text.split(" ")
    index = words.index(TRIGGER) + 1 if TRIGGER in words else -1
    tokens = _without_word(clip.tokenize(text, return_word_ids=True), index)
    cond, pooled = clip.encode_from_tokens(tokens, return_pooled=True)
    if index > 0:
        pixels = clip_preprocess(image.float(), photomaker.config.image_size)
        mask = torch.zeros(1, cond.shape[1], dtype=torch.bool)
        mask[0, index - 1] = True
        with torch.no_grad():
            cond = photomaker(pixels, cond.float(), mask)
    return [[cond, {"pooled_output": pooled}]]


class PhotoMakerEncode(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = PHOTOMAKER

    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="PhotoMakerEncode", category="_for_testing/photomaker",
                         inputs=[io.Photomaker.Input("photomaker"), io.Image.Input("image"), io.Clip.Input("clip"),
                                 io.String.Input("text", multiline=True, dynamic_prompts=True,
                                                 default="photograph of photomaker")],
                         outputs=[io.Conditioning.Output()], is_experimental=True)

    @classmethod
    def execute(cls, photomaker, image, clip, text):
        return io.NodeOutput(photomaker_encode(photomaker, image, clip, text))

    apply_photomaker = execute


NODE_CLASS_MAPPINGS = {"PhotoMakerLoader": PhotoMakerLoader, "PhotoMakerEncode": PhotoMakerEncode}
NODE_DISPLAY_NAME_MAPPINGS: dict[str, str] = {}
