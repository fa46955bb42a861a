"""The dataset and model registry service."""
