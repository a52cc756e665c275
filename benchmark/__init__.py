"""signspot-bench core: contracts, hook specs, plugin manager, registries, stages, CLI and tracking.

Plugin authors need ``from benchmark import hookimpl`` and the contracts in :mod:`benchmark.interfaces`.
"""

import pluggy

__version__ = "0.1.0"

PROJECT_NAME = "signspot"
ENTRY_POINT_GROUP = "signspot.plugins"

hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

__all__ = ["ENTRY_POINT_GROUP", "PROJECT_NAME", "__version__", "hookimpl"]
