"""`comfy.ldm.flux.math`: Flux's rotary-embedding helpers, by name (packs import them at
module level next to their SD nodes). Flux is not a family this server runs: calling one
raises an error saying so."""

from comfy._unsupported import unsupported_function

apply_rope = unsupported_function("apply_rope", "Flux's rotary position embedding", __name__)
apply_rope1 = unsupported_function("apply_rope1", "Flux's rotary position embedding", __name__)
rope = unsupported_function("rope", "Flux's rotary frequencies", __name__)
attention = unsupported_function("attention", "Flux's attention with rotary embedding", __name__)
