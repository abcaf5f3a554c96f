"""Moderation: learned label models plus rule detectors that explain themselves."""
