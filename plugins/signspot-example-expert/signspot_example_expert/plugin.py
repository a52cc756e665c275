"""The plugin module named by the entry point: cheap to import, it only registers the expert."""

from benchmark import hookimpl


@hookimpl
def register_experts(registry):
    # a "module:attr" spec: the module is imported (and the class instantiated) when the expert is first used
    registry.add("tiny-c3d", "signspot_example_expert.expert:TinyC3DExpert")
