"""What happens on a detection: chime, Python callback, command, JSON line — off the audio path."""

from kws.actions.actions import (Action, ActionRunner, CallbackAction, ChimeAction, CommandAction,
                                 JsonLineAction, actions_from_config)

__all__ = ["Action", "ActionRunner", "CallbackAction", "ChimeAction", "CommandAction", "JsonLineAction",
           "actions_from_config"]
