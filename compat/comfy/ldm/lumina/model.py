"""`comfy.ldm.lumina.model`: Lumina 2's network blocks, by name (packs import them at
module level to patch them). Lumina is not a family this server runs: building one raises
an error saying so."""

from comfy._unsupported import unsupported_class

FeedForward = unsupported_class("FeedForward", "Lumina 2's feed-forward block", __name__)
JointAttention = unsupported_class("JointAttention", "Lumina 2's joint attention", __name__)
NextDiT = unsupported_class("NextDiT", "the Lumina 2 diffusion transformer", __name__)
