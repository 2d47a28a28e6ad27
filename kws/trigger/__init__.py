"""The posterior-smoothing trigger, a small pure object fed one probability per step."""

from kws.trigger.trigger import Trigger, TriggerParams

__all__ = ["Trigger", "TriggerParams"]
