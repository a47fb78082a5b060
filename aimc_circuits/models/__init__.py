"""Behavioral block models built from calibration/ (pure numpy, no SPICE needed)."""
