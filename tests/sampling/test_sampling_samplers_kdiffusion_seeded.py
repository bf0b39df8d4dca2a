"""The samplers k-diffusion itself has, against the `k-diffusion` package: the same
denoiser, σ schedule, start and seed, where only the reference is handed its noise.

Our samplers get nothing but the seed and build their noise as ComfyUI does; k-diffusion's
functions get noise samplers written here from COMPAT 9.2: ancestral samplers a CPU
generator seeded seed + 1, SDE samplers k-diffusion's own `BrownianTreeNoiseSampler` seeded
with the seed over the schedule's positive σ range. So each comparison checks the update
rule, the order of the noise draws and the seed plumbing at once, on a denoiser that is
not linear in x (a linear one can hide a misplaced evaluation point). The last test does
the same through KSampler on a real (tiny, random-weight) SD1.5 UNet.

Where ComfyUI deliberately differs from k-diffusion, the comparison says so: `lms` returns
D on the step down to σ = 0 (k-diffusion integrates that step), so it is compared on a
schedule that stops at σ_min and its last step is checked on its own."""

import pytest
import torch
from kdiffusion_reference import comfy_gaussian, load

from comfy_core.sampling.conditioning import from_comfy, resolve
from comfy_core.sampling.ksampler import schedule_sigmas
from comfy_core.sampling.model_call import model_sampling_of, sampling_function
from comfy_core.sampling.model_sampling import ModelSampling
from comfy_core.sampling.noise import BrownianNoise
from comfy_core.sampling.samplers import SAMPLERS
from comfy_core.sampling.schedules import sigmas_karras

K = load()
MS = ModelSampling()
SHAPE = (2, 3, 6, 6)
MU = torch.randn(SHAPE, generator=torch.Generator().manual_seed(0))
S2 = 0.25  # data variance
SEED = 1234
SIGMAS = sigmas_karras(MS, 9)


def denoiser(x, sigma):
    """The Gaussian posterior mean plus a smooth nonlinear term that fades at σ = 0."""
    s = sigma.reshape(-1, 1, 1, 1)
    return (S2 * x + s**2 * MU) / (S2 + s**2) + 0.2 * torch.tanh(x / (1 + s)) * s / (1 + s)


def start(sigma0):
    return torch.randn(SHAPE, generator=torch.Generator().manual_seed(1)) * float(sigma0)


def comfy_brownian(x, sigmas, seed):
    """COMPAT 9.2: k-diffusion's Brownian tree seeded `seed` on [min positive σ, max σ]."""
    return K.BrownianTreeNoiseSampler(x, sigmas[sigmas > 0].min(), sigmas.max(), seed=seed)


GAUSSIAN, BROWNIAN = "gaussian", "brownian"
# ours, k-diffusion's function, noise kind, options (passed to both)
CASES = [
    ("euler", "euler", None, {}),
    ("ddim", "euler", None, {}),  # ComfyUI's ddim is euler (it differs only in inpainting noise)
    ("heun", "heun", None, {}),
    ("dpm_2", "dpm_2", None, {}),
    ("dpmpp_2m", "dpmpp_2m", None, {}),
    ("euler_ancestral", "euler_ancestral", GAUSSIAN, {}),
    ("euler_ancestral", "euler_ancestral", GAUSSIAN, {"eta": 0.6, "s_noise": 0.9}),
    ("dpm_2_ancestral", "dpm_2_ancestral", GAUSSIAN, {}),
    ("dpm_2_ancestral", "dpm_2_ancestral", GAUSSIAN, {"eta": 0.5}),
    ("dpmpp_2s_ancestral", "dpmpp_2s_ancestral", GAUSSIAN, {}),
    ("dpmpp_2s_ancestral", "dpmpp_2s_ancestral", GAUSSIAN, {"eta": 0.7, "s_noise": 1.1}),
    ("dpmpp_sde", "dpmpp_sde", BROWNIAN, {}),
    ("dpmpp_sde", "dpmpp_sde", BROWNIAN, {"eta": 0.5, "r": 0.3}),
    ("dpmpp_sde_gpu", "dpmpp_sde", BROWNIAN, {}),
    ("dpmpp_2m_sde", "dpmpp_2m_sde", BROWNIAN, {}),
    ("dpmpp_2m_sde", "dpmpp_2m_sde", BROWNIAN, {"eta": 0.4, "s_noise": 0.8}),
    ("dpmpp_2m_sde_gpu", "dpmpp_2m_sde", BROWNIAN, {}),
    ("dpmpp_2m_sde_heun", "dpmpp_2m_sde", BROWNIAN, {"solver_type": "heun"}),
    ("dpmpp_2m_sde_heun_gpu", "dpmpp_2m_sde", BROWNIAN, {"solver_type": "heun"}),
    ("dpmpp_3m_sde", "dpmpp_3m_sde", BROWNIAN, {}),
    ("dpmpp_3m_sde", "dpmpp_3m_sde", BROWNIAN, {"eta": 0.5}),
    ("dpmpp_3m_sde_gpu", "dpmpp_3m_sde", BROWNIAN, {}),
]


def reference(kname, kind, x, sigmas, options):
    extra = {}
    if kind == GAUSSIAN:
        extra["noise_sampler"] = comfy_gaussian(x, SEED)
    elif kind == BROWNIAN:
        extra["noise_sampler"] = comfy_brownian(x, sigmas, SEED)
    return getattr(K, f"sample_{kname}")(denoiser, x, sigmas, disable=True, **options, **extra)


@pytest.mark.filterwarnings("ignore::UserWarning")  # torchsde: a query a rounding step past the range
@pytest.mark.parametrize("name,kname,kind,options", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_sampler_matches_k_diffusion_from_the_seed_alone(name, kname, kind, options):
    x = start(SIGMAS[0])
    ref = reference(kname, kind, x, SIGMAS, options)
    got = SAMPLERS[name].fn(denoiser, x, SIGMAS, seed=SEED, **options)
    torch.testing.assert_close(got, ref, atol=2e-5, rtol=2e-5)
    if kind is not None:  # the seed matters: another seed gives another result
        assert not torch.allclose(SAMPLERS[name].fn(denoiser, x, SIGMAS, seed=SEED + 7, **options), ref, atol=1e-3)


def test_lms_matches_k_diffusion_until_the_step_to_zero_which_returns_d():
    sigmas = SIGMAS[:-1]  # stop at σ_min: k-diffusion integrates the step to 0, ComfyUI returns D
    x = start(sigmas[0])
    ref = K.sample_lms(denoiser, x, sigmas, disable=True)
    torch.testing.assert_close(SAMPLERS["lms"].fn(denoiser, x, sigmas), ref, atol=2e-5, rtol=2e-5)
    full = SAMPLERS["lms"].fn(denoiser, x, SIGMAS)
    torch.testing.assert_close(full, denoiser(ref, sigmas[-1:].expand(SHAPE[0])), atol=2e-5, rtol=2e-5)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_brownian_noise_is_k_diffusions_tree_for_the_same_seed():
    """Our Brownian tree against k-diffusion's on the same seed and range, queried forwards,
    backwards, on sub-intervals and at the range ends: the same numbers."""
    x = torch.zeros(SHAPE)
    ours = BrownianNoise(x, SIGMAS[-2], SIGMAS[0], seed=SEED)
    ref = K.BrownianTreeNoiseSampler(x, SIGMAS[-2], SIGMAS[0], seed=SEED)
    queries = [(SIGMAS[0], SIGMAS[1]), (SIGMAS[3], SIGMAS[5]), (SIGMAS[5], SIGMAS[3]), (SIGMAS[7], SIGMAS[8]),
               (torch.tensor(3.3), torch.tensor(0.2))]
    for a, b in queries:
        torch.testing.assert_close(ours(a, b), ref(a, b), atol=1e-6, rtol=1e-6)
    other = K.BrownianTreeNoiseSampler(x, SIGMAS[-2], SIGMAS[0], seed=SEED + 1)
    assert not torch.allclose(ours(SIGMAS[0], SIGMAS[1]), other(SIGMAS[0], SIGMAS[1]))


@pytest.fixture(scope="module")
def sd15(tmp_path_factory):
    """The tiny random-weight SD1.5 checkpoint loaded through the nodes, and its prompts."""
    import nodes
    from comfy_core import runtime
    from comfy_core.files import FolderPaths
    from comfy_core.settings import Settings
    from tests.fixtures.checkpoints import make_tiny_checkpoint

    base = tmp_path_factory.mktemp("kd_models")
    make_tiny_checkpoint("sd15", base / "models" / "checkpoints")
    ctx = runtime.AppContext(folders=FolderPaths.build(base), settings=Settings(base_directory=base))

    def run(name, **inputs):
        cls = nodes.NODE_CLASS_MAPPINGS[name]
        return getattr(cls(), cls.FUNCTION)(**inputs)

    with runtime.use_app(ctx):
        model, clip, _ = run("CheckpointLoaderSimple", ckpt_name="sd15_tiny.safetensors")
        pos, neg = run("CLIPTextEncode", clip=clip, text="a red cube")[0], run("CLIPTextEncode", clip=clip, text="")[0]
        yield model, pos, neg, run


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name,kname,kind,options", [  # one per noise kind (the rules are checked above)
    ("dpm_2_ancestral", "dpm_2_ancestral", GAUSSIAN, {}),  # also KSampler's dropped penultimate σ
    ("dpmpp_2m_sde_heun", "dpmpp_2m_sde", BROWNIAN, {"solver_type": "heun"}),
])
def test_ksampler_on_a_real_unet_matches_k_diffusion_from_the_seed(sd15, name, kname, kind, options):
    """KSampler (ours, given only the seed) against k-diffusion's function driven by the same
    model's CFG denoiser, on the KSampler's schedule, from the initial noise COMPAT 9.2
    prescribes (the global-generator draw for the seed, scaled for a full denoise)."""
    model, pos, neg, run = sd15
    latent = {"samples": torch.zeros(1, 4, 8, 8)}
    steps, cfg, seed = 3, 5.0, 77
    ours = run("KSampler", model=model, seed=seed, steps=steps, cfg=cfg, sampler_name=name, scheduler="karras",
               positive=pos, negative=neg, latent_image=latent, denoise=1.0)[0]["samples"]
    ms = model_sampling_of(model)
    sigmas = schedule_sigmas(ms, "karras", name, steps)
    scale = model.model.latent_format.scale_factor
    cond, uncond = (resolve(from_comfy(c), latent["samples"].shape, ms) for c in (pos, neg))

    def guider(x, sigma, **_):  # the model (loaded by the KSampler run) with CFG, one step
        return sampling_function(model.model, x, sigma, uncond, cond, cfg, {})

    x = torch.randn(latent["samples"].shape, generator=torch.manual_seed(seed)) * (1 + sigmas[0] ** 2) ** 0.5
    noise = comfy_gaussian(x, seed) if kind == GAUSSIAN else comfy_brownian(x, sigmas, seed)
    ref = getattr(K, f"sample_{kname}")(guider, x, sigmas, noise_sampler=noise, disable=True, **options)
    torch.testing.assert_close(ours, ref / scale, atol=1e-4, rtol=1e-4)
