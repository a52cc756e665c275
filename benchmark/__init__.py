"""signspot-bench core: hook specs, plugin manager, registry, stage runner, CLI and tracking.

Plugin authors only need ``from benchmark import hookimpl``.
"""

import pluggy

__version__ = "0.1.0"

PROJECT_NAME = "signspot"
ENTRY_POINT_GROUP = "signspot.plugins"

hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

__all__ = ["ENTRY_POINT_GROUP", "PROJECT_NAME", "__version__", "hookimpl"]
