"""Slakh2100-format data: index, windows, targets, synthetic corpus (composer + FluidSynth renderer)."""
