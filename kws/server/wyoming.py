"""``kws serve``: a Wyoming wake-word server (Home Assistant's ``wyoming`` integration).

Protocol (framing and event classes from the ``wyoming`` package):
``describe`` -> ``info`` (a wake program listing every loaded model); ``detect`` (names to
listen for, optional); ``audio-start`` resets the connection's stream; ``audio-chunk``
(PCM at any rate/width/channels, converted to 16 kHz mono float32) -> ``detection``
(name, timestamp) whenever a model fires; ``audio-stop`` -> ``not-detected`` if nothing
fired in that stream; ``ping`` -> ``pong``.

Every connection has its own Spotter (front end, recurrent state, triggers) over the
shared, once-loaded ONNX models, and its own streaming resampler.  The detector runs on
a small thread pool so that one busy client does not stall the event loop; each
connection awaits its own chunk before reading the next, so TCP back-pressure (not an
unbounded queue) is what slows a fast sender.  Connections and event sizes are bounded;
a client that sends garbage or vanishes mid-stream is logged in one line and closed,
the others carry on.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event, async_read_event
from wyoming.info import Attribution, Describe, Info, WakeModel, WakeProgram
from wyoming.ping import Ping, Pong
from wyoming.server import AsyncEventHandler, AsyncServer
from wyoming.wake import Detect, Detection, NotDetected

from kws import __version__
from kws.audio.pcm import PcmConverter, format_for_width
from kws.errors import KwsError
from kws.filemode import TAIL_PAD_S
from kws.spotter import Spotter

log = logging.getLogger("kws.serve")

MAX_DATA_BYTES = 64 * 1024  # JSON data of one event
MAX_PAYLOAD_BYTES = 1024 * 1024  # one audio chunk: 1 s of 48 kHz stereo 32-bit is 384 KiB


class EventTooLarge(Exception):
    pass


class _BoundedReader:
    """What ``async_read_event`` needs of a StreamReader, refusing oversized events.

    The StreamReader already bounds a header line (64 KiB); without this, a header
    announcing a 10 GB payload would make ``readexactly`` buffer all of it.
    """

    def __init__(self, reader: asyncio.StreamReader):
        self._reader = reader
        self.last_line = b""

    async def readline(self) -> bytes:
        self.last_line = b""
        try:
            self.last_line = await self._reader.readline()
        except ValueError:  # header line over the StreamReader's limit
            self.last_line = b"<over-long header>"
            raise
        return self.last_line

    async def readexactly(self, n: int) -> bytes:
        if n > MAX_PAYLOAD_BYTES:
            raise EventTooLarge(f"event announces {n} bytes, more than the {MAX_PAYLOAD_BYTES} allowed")
        return await self._reader.readexactly(n)


def wake_info(spotter: Spotter) -> Info:
    """The ``info`` answer: one wake program with every loaded model."""
    attribution = Attribution(name="kws", url="")
    # Home Assistant lists a wake word by its description (else its name) and sends the name back in
    # ``detect``; the phrase is what the user says.
    models = [WakeModel(name=m.keyword, description=m.keyword.replace("_", " "), phrase=m.keyword.replace("_", " "),
                        languages=["en"], attribution=attribution, installed=True, version=__version__)
              for m in spotter.models]
    program = WakeProgram(name="kws", description="kws: offline streaming wake-word engine",
                          attribution=attribution, installed=True, version=__version__, models=models)
    return Info(wake=[program])


class WakeService:
    """What all connections share: the loaded models, the info answer, the limits, the pool."""

    def __init__(self, spotter: Spotter, max_clients: int = 8, workers: int = 2, idle_timeout_s: float | None = 300):
        self.spotter = spotter
        self.info_event = wake_info(spotter).event()
        self.max_clients = max_clients
        self.idle_timeout_s = idle_timeout_s  # a peer that vanished without closing must not hold a slot forever
        self.clients = 0
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kws-serve")

    def new_spotter(self) -> Spotter:
        """A fresh stream state over the shared models and the same trigger settings."""
        return Spotter(self.spotter.models, [t.params for t in self.spotter.triggers])

    def handler(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> "WakeHandler":
        return WakeHandler(reader, writer, self)


class WakeHandler(AsyncEventHandler):
    def __init__(self, reader, writer, service: WakeService):
        super().__init__(reader, writer)
        self.service = service
        self.spotter = service.new_spotter()
        self.converter: PcmConverter | None = None
        self.names: set[str] | None = None  # from ``detect``; None: every model
        self.streaming = False
        self.detected = False
        self.samples = 0
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else "local"

    # -- connection life ----------------------------------------------------------------
    async def run(self) -> None:
        service = self.service
        if service.clients >= service.max_clients:
            log.warning("client %s refused: already %d connections (--max-clients)", self.peer, service.clients)
            try:
                await self.write_event(Error(text=f"server busy: {service.max_clients} connections",
                                             code="busy").event())
            except (ConnectionError, OSError):
                pass
            self.writer.close()
            return
        service.clients += 1
        log.debug("client %s connected (%d open)", self.peer, service.clients)
        bounded = _BoundedReader(self.reader)
        try:
            while True:
                event = await asyncio.wait_for(async_read_event(bounded), service.idle_timeout_s)
                if event is None:
                    if bounded.last_line:
                        log.warning("client %s closed: malformed event %r", self.peer, bounded.last_line[:60])
                    elif self.streaming:
                        log.warning("client %s disconnected mid-stream after %.1f s of audio", self.peer,
                                    self.samples / self.spotter.sample_rate)
                    break
                if not await self.handle_event(event):
                    break
        except KwsError as exc:
            log.warning("client %s closed: %s", self.peer, exc)
            await self._try_write(Error(text=str(exc), code="bad-audio").event())
        except EventTooLarge as exc:
            log.warning("client %s closed: %s", self.peer, exc)
        except asyncio.TimeoutError:
            log.warning("client %s closed: no event for %g s (--idle-timeout)", self.peer, service.idle_timeout_s)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            log.warning("client %s disconnected mid-event (%s)", self.peer, type(exc).__name__)
        except Exception as exc:  # a malformed event (wrong JSON shape, missing keys): this client only
            log.warning("client %s closed: malformed event (%s: %s)", self.peer, type(exc).__name__, exc)
        finally:
            service.clients -= 1
            self.writer.close()
            log.debug("client %s gone (%d open)", self.peer, service.clients)

    async def _try_write(self, event: Event) -> None:
        try:
            await self.write_event(event)
        except (ConnectionError, OSError):
            pass

    # -- events -------------------------------------------------------------------------
    async def handle_event(self, event: Event) -> bool:
        if Describe.is_type(event.type):
            await self.write_event(self.service.info_event)
        elif Detect.is_type(event.type):
            names = Detect.from_event(event).names
            self.names = set(names) if names else None
        elif AudioStart.is_type(event.type):
            start = AudioStart.from_event(event)
            self._start(start.rate, start.width, start.channels)
        elif AudioChunk.is_type(event.type):
            await self._chunk(AudioChunk.from_event(event))
        elif AudioStop.is_type(event.type):
            await self._stop()
        elif Ping.is_type(event.type):  # answered after everything sent before it: a client can time a chunk
            await self.write_event(Pong(text=Ping.from_event(event).text).event())
        else:
            log.debug("client %s: ignoring %s event", self.peer, event.type)
        return True

    def _start(self, rate: int, width: int, channels: int) -> None:
        self.converter = PcmConverter(int(rate), format_for_width(int(width)), int(channels),
                                      out_rate=self.spotter.sample_rate)
        self.spotter.reset()
        self.streaming, self.detected, self.samples = True, False, 0

    async def _chunk(self, chunk: AudioChunk) -> None:
        c = self.converter
        if c is None or (chunk.rate, format_for_width(chunk.width), chunk.channels) != (c.rate, c.fmt, c.channels):
            # No audio-start, or the format changed: start a stream in the chunk's format.
            self._start(chunk.rate, chunk.width, chunk.channels)
        samples = self.converter.convert(chunk.audio)
        await self._detect(samples, chunk.timestamp)

    async def _stop(self) -> None:
        if self.converter is not None and self.streaming:
            # As in file mode: half a second of silence lets a word at the very end reach the trigger.
            tail = np.concatenate([self.converter.convert(b"", last=True),
                                   np.zeros(int(TAIL_PAD_S * self.spotter.sample_rate), np.float32)])
            await self._detect(tail, None)
        if not self.detected:
            await self.write_event(NotDetected().event())
        self.streaming, self.converter = False, None

    async def _detect(self, samples: np.ndarray, timestamp: int | None) -> None:
        if not samples.size:
            return
        self.samples += len(samples)
        loop = asyncio.get_running_loop()
        detections = await loop.run_in_executor(self.service.executor, self.spotter.process, samples)
        for d in detections:
            if self.names is not None and d.keyword not in self.names:
                continue
            self.detected = True
            log.info("client %s: detected %s at %.2f s (p=%.3f)", self.peer, d.keyword, d.time_s, d.probability)
            ms = timestamp if timestamp is not None else int(d.time_s * 1000)
            await self.write_event(Detection(name=d.keyword, timestamp=ms).event())


async def _serve(service: WakeService, uri: str, zeroconf_name: str | None) -> None:
    server = AsyncServer.from_uri(uri)
    if zeroconf_name is not None:
        await _announce(uri, zeroconf_name)
    log.info("serving %d model(s) (%s) on %s", len(service.spotter.models),
             ", ".join(m.keyword for m in service.spotter.models), uri)
    await server.run(service.handler)


async def _announce(uri: str, name: str) -> None:
    """Zeroconf ``_wyoming._tcp`` announcement; needs the separate ``zeroconf`` package."""
    import importlib.util
    from urllib.parse import urlparse

    if importlib.util.find_spec("zeroconf") is None:
        raise KwsError("--zeroconf needs the zeroconf package: pip install zeroconf")
    parsed = urlparse(uri)
    if parsed.scheme != "tcp":
        raise KwsError("--zeroconf needs a tcp:// URI")
    from wyoming.zeroconf import HomeAssistantZeroconf

    host = None if parsed.hostname in ("0.0.0.0", "") else parsed.hostname
    await HomeAssistantZeroconf(port=parsed.port, name=name or None, host=host).register_server()
    log.info("announced on zeroconf as _wyoming._tcp (%s)", name or "MAC address")


def check_uri(uri: str) -> None:
    try:
        AsyncServer.from_uri(uri)
    except ValueError as exc:
        raise KwsError(f"--uri {uri}: {exc}") from None


def serve(spotter: Spotter, uri: str, max_clients: int = 8, zeroconf_name: str | None = None,
          idle_timeout_s: float | None = 300) -> None:
    """Run the server until SIGTERM/SIGINT."""
    check_uri(uri)
    service = WakeService(spotter, max_clients=max_clients, idle_timeout_s=idle_timeout_s)
    try:
        asyncio.run(_serve(service, uri, zeroconf_name))
    except KeyboardInterrupt:
        pass
    except OSError as exc:  # address in use, permission denied, …
        raise KwsError(f"--uri {uri}: {exc.strerror or exc}") from None
    finally:
        service.executor.shutdown(wait=False, cancel_futures=True)
        log.info("server stopped")
