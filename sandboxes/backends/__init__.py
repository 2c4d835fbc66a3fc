"""Built-in backends; each module registers its class. A new backend is one module
here plus one import line below."""

from sandboxes.backends import bwrap, docker  # noqa: F401
