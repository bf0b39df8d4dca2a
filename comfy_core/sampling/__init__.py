"""Sampling: model sampling (eps/v, σ <-> t), schedules, samplers, CFG guider, noise.

Receives callables and a ModelSampling; never imports model classes.
"""
