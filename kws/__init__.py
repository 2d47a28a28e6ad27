"""kws: an offline, streaming wake-word engine.

The runtime (everything here except ``kws.train``) needs only numpy, onnxruntime,
soundfile, soxr, sounddevice, pyyaml, click and rich; it never imports torch.

Embedding it::

    from kws import Spotter
    spotter = Spotter.from_models(["alexa"])
    for detection in spotter.process(chunk):   # 16 kHz mono float32, any chunk size
        print(detection.keyword, detection.time_s, detection.probability)
"""

__version__ = "0.1.0"

from kws.errors import KwsError  # noqa: E402
from kws.listener import Listener  # noqa: E402
from kws.spotter import Detection, Spotter  # noqa: E402

__all__ = ["Detection", "KwsError", "Listener", "Spotter", "__version__"]
