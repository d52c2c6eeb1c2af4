"""Chairside: a practice's blog posts in, its patient-education newsletter out."""

__version__ = "0.1.0"
