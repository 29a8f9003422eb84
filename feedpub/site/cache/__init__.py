"""The build cache: what the last complete build saw, and the keys of outputs' inputs.

May import what the rest of ``site`` may.
"""
