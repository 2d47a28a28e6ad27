"""The one log-mel front end, shared by file mode, the daemon, training and bench."""

from kws.frontend.logmel import FrontendParams, LogMel, StreamingLogMel

__all__ = ["FrontendParams", "LogMel", "StreamingLogMel"]
