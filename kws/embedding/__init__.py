"""The speech embedding stage: Google's speech embedding (as openWakeWord runs it) and the
small per-keyword heads that score its output."""

from kws.embedding.speech import (EMBEDDINGS_PER_WINDOW, SEGMENT_SAMPLES, SpeechEmbedding,  # noqa: F401
                                  StreamingEmbedding, speech_embedding)
from kws.embedding.head import EmbeddingHead  # noqa: F401
