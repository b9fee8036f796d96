"""The errors a malformed scenario and a run that cannot go on raise, in a module of their own so that the
plug-in loader, the results folder and its lock can share them."""


class ScenarioError(ValueError):
    """A scenario file or override is malformed; the message names the key."""


class RunError(RuntimeError):
    """A run cannot start or continue; the message says why and what to do."""
