"""Backbones, the AU head and the Lightning module."""
