"""Variant servers: a FastAPI app streaming gated langchain tokens in many framings.

Plug-in variants import their types from the package itself::

    from streamcompat import Variant, framed, streaming
"""
