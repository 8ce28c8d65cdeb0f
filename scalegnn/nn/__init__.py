"""Layers and models that drop into ordinary PyG models."""
