"""Filtering in strips: bounded memory at any image size, results identical to the whole image."""
