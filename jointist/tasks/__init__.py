"""LightningModules: losses, metrics, optimisers and logging around the plain models."""
