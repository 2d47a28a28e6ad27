"""The one model wrapper: an ONNX detector with explicit recurrent state, and its sidecar."""

from kws.model.detector import KeywordModel, ModelStream, is_shipped_name, resolve_model_path
from kws.model.sidecar import ModelMeta

__all__ = ["KeywordModel", "ModelMeta", "ModelStream", "is_shipped_name", "resolve_model_path"]
