"""The error a malformed scenario raises, in a module of its own so that the plug-in loader can share it."""


class ScenarioError(ValueError):
    """A scenario file or override is malformed; the message names the key."""
