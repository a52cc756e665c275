"""The plugin module named by the entry point: cheap to import, it only registers the expert."""
from benchmark import hookimpl

from signspot_example_expert.expert import TinyC3DExpert


@hookimpl
def register_experts(registry):
    registry.add("tiny-c3d", TinyC3DExpert(), description="Small C3D-style 3D CNN (example third-party expert)")
