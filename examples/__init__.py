"""Examples: plug-in variants, as a team gating its own framing would write them, and
apps for app mode (``langchain_app``, ``passthrough_app``), each a module for uvicorn."""
