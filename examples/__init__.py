"""Plug-in variants, as a team gating its own framing would write them."""
