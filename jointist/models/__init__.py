"""Plain ``nn.Module`` models: tensors in, tensors out; no Lightning, Hydra or OmegaConf."""
