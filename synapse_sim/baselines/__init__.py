"""Baselines that are not synapse-local rules: gradient descent."""
