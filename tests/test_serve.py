"""`kws serve` through real sockets, driven by the `wyoming` client library.

The server is a real `kws serve` process; clients connect over TCP or a Unix socket.
Audio: the shipped alexa model detects ../shared/data/keywords/alexa/pv-205.flac; 10 s of
game music (no speech) gives nothing.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

from tests.conftest import DATA, REPO

wyoming = pytest.importorskip("wyoming", reason="kws serve needs the wyoming extra: pip install -e '.[wyoming]'")
from wyoming.audio import AudioChunk, AudioStart, AudioStop  # noqa: E402
from wyoming.client import AsyncClient  # noqa: E402
from wyoming.error import Error  # noqa: E402
from wyoming.info import Describe, Info  # noqa: E402
from wyoming.wake import Detect, Detection  # noqa: E402

KEYWORD = DATA / "keywords" / "alexa" / "pv-205.flac"
MUSIC = DATA / "background" / "music" / "hedgewars_music_000.ogg"


@pytest.fixture(scope="module")
def clips():
    if not KEYWORD.is_file() or not MUSIC.is_file():
        pytest.skip(f"test audio not found under {DATA} (set KWS_DATA_ROOT)")
    keyword, sr = sf.read(KEYWORD, dtype="float32")
    music, msr = sf.read(MUSIC, dtype="float32", always_2d=True)
    music = soxr.resample(music.mean(axis=1), msr, 16000)[: 10 * 16000] if msr != 16000 else music.mean(axis=1)[: 10 * 16000]
    assert sr == 16000
    return keyword, music.astype(np.float32)


class Server:
    def __init__(self, uri: str, tmp: Path, *args):
        self.uri, self.log_path = uri, tmp / "serve.log"
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "kws.cli.main", "serve", "--uri", uri,
                                      "--log-level", "DEBUG", *args],
                                     cwd=REPO, stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.monotonic() + 120
        while "serving" not in self.log_path.read_text():  # logged just before binding: connect() retries
            assert self.proc.poll() is None, self.log_path.read_text()
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)

    def lines(self, needle: str) -> list[str]:
        return [line for line in self.log_path.read_text().splitlines() if needle in line]

    def stop(self):
        self.proc.terminate()  # SIGTERM: a clean stop
        assert self.proc.wait(timeout=10) == 0, self.log_path.read_text()
        self.log.close()
        assert "Traceback" not in self.log_path.read_text()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory, clips):
    s = Server(f"tcp://127.0.0.1:{free_port()}", tmp_path_factory.mktemp("serve"))
    yield s
    s.stop()


async def connect(uri: str) -> AsyncClient:
    for _ in range(50):
        try:
            client = AsyncClient.from_uri(uri, read_timeout=60)
            await client.connect()
            return client
        except (ConnectionRefusedError, FileNotFoundError):
            await asyncio.sleep(0.1)
    raise AssertionError(f"cannot connect to {uri}")


async def stream(uri: str, audio: np.ndarray, rate=16000, width=2, channels=1, chunk_ms=60, names=None,
                 stop_after: float | None = None) -> list:
    """Stream ``audio`` (float, mono) as PCM; return the events answered until ``describe``'s info."""
    if rate != 16000:
        audio = soxr.resample(audio, 16000, rate)
    frames = np.repeat(np.clip(audio, -1, 1)[:, None], channels, axis=1)
    scale = {2: 32767, 4: 2147483647}[width]
    pcm = (frames * scale).astype(f"<i{width}").tobytes()
    step = int(rate * chunk_ms / 1000) * width * channels
    client = await connect(uri)
    try:
        await client.write_event(Detect(names=names).event())
        await client.write_event(AudioStart(rate, width, channels).event())
        for ms, i in enumerate(range(0, len(pcm), step)):
            if stop_after is not None and i >= stop_after * rate * width * channels:
                return []  # vanish mid-stream
            await client.write_event(AudioChunk(rate, width, channels, pcm[i:i + step], timestamp=ms * chunk_ms).event())
            await asyncio.sleep(0)  # let other clients' coroutines interleave with this one
        await client.write_event(AudioStop().event())
        await client.write_event(Describe().event())  # its info marks the end of this stream's answers
        events = []
        while True:
            event = await client.read_event()
            assert event is not None, "server closed the connection"
            if Info.is_type(event.type):
                return events
            events.append(event)
    finally:
        await client.disconnect()


def kinds(events):
    return [e.type for e in events]


def test_describe_lists_the_loaded_models_as_a_wake_program(server):
    async def go():
        client = await connect(server.uri)
        await client.write_event(Describe().event())
        event = await client.read_event()
        await client.disconnect()
        return Info.from_event(event)

    info = asyncio.run(go())
    (program,) = info.wake
    assert program.name == "kws" and program.installed
    assert [(m.name, m.description, m.phrase, m.languages) for m in program.models] == [
        ("alexa", "alexa", "alexa", ["en"])]
    assert program.models[0].version and program.models[0].attribution.name == "kws"


def test_ping_is_answered_with_pong(server):
    from wyoming.ping import Ping, Pong

    async def go():
        client = await connect(server.uri)
        await client.write_event(Ping(text="hello").event())
        event = await client.read_event()
        await client.disconnect()
        return event

    event = asyncio.run(go())
    assert Pong.is_type(event.type) and Pong.from_event(event).text == "hello"


def test_keyword_streamed_in_chunks_gives_one_detection(server, clips):
    keyword, _ = clips
    events = asyncio.run(stream(server.uri, np.concatenate([keyword, np.zeros(8000, np.float32)])))
    assert kinds(events) == ["detection"], events
    det = Detection.from_event(events[0])
    assert det.name == "alexa" and isinstance(det.timestamp, int)


def test_other_rates_widths_and_channels_are_converted(server, clips):
    keyword, _ = clips
    events = asyncio.run(stream(server.uri, keyword, rate=48000, width=4, channels=2, chunk_ms=100))
    assert kinds(events) == ["detection"], events


def test_audio_without_the_keyword_gives_not_detected(server, clips):
    _, music = clips
    assert kinds(asyncio.run(stream(server.uri, music))) == ["not-detected"]


def test_two_models_are_listed_and_detect_names_picks_among_them(tmp_path, clips):
    keyword, _ = clips
    server = Server(f"unix://{tmp_path}/kws.sock", tmp_path, "-m", "alexa", "-m", "hey_computer")
    try:
        async def describe():
            client = await connect(server.uri)
            await client.write_event(Describe().event())
            event = await client.read_event()
            await client.disconnect()
            return Info.from_event(event)

        assert [m.name for m in asyncio.run(describe()).wake[0].models] == ["alexa", "hey computer"]
        assert asyncio.run(describe()).wake[0].models[1].phrase == "hey computer"
        assert kinds(asyncio.run(stream(server.uri, keyword, names=["hey computer"]))) == ["not-detected"]
        events = asyncio.run(stream(server.uri, keyword, names=["alexa"]))
        assert [Detection.from_event(e).name for e in events] == ["alexa"]
    finally:
        server.stop()


def test_two_clients_at_once_get_independent_answers(server, clips):
    keyword, music = clips
    long_keyword = np.concatenate([music[:3 * 16000], keyword, music[:2 * 16000]])

    async def both():
        return await asyncio.gather(stream(server.uri, long_keyword), stream(server.uri, music[:len(long_keyword)]))

    with_kw, without = asyncio.run(both())
    assert kinds(with_kw) == ["detection"] and kinds(without) == ["not-detected"]


def test_garbage_and_vanishing_clients_do_not_affect_others(server, clips):
    keyword, music = clips

    async def garbage():
        client = await connect(server.uri)
        client._writer.write(b"this is not json\n")
        await client._writer.drain()
        assert await client.read_event() is None  # the server closed this connection
        await client.disconnect()

    async def oversized():
        client = await connect(server.uri)
        client._writer.write(b'{"type": "audio-chunk", "payload_length": 1000000000}\n')
        await client._writer.drain()
        assert await client.read_event() is None
        await client.disconnect()

    async def all_at_once():
        return await asyncio.gather(stream(server.uri, np.concatenate([music[:16000], keyword])),
                                    garbage(), oversized(), stream(server.uri, music, stop_after=2.0))

    good, *_ = asyncio.run(all_at_once())
    assert kinds(good) == ["detection"]
    time.sleep(0.5)
    for needle in ("malformed event", "more than the 1048576 allowed", "disconnected mid-stream after"):
        assert len(server.lines(needle)) == 1, server.log_path.read_text()
    assert "Traceback" not in server.log_path.read_text()
    assert kinds(asyncio.run(stream(server.uri, keyword))) == ["detection"]  # still serving


def test_connections_are_bounded(tmp_path, clips):
    keyword, _ = clips
    server = Server(f"unix://{tmp_path}/kws.sock", tmp_path, "--max-clients", "2", "--idle-timeout", "2")
    try:
        async def go():
            held = [await connect(server.uri) for _ in range(2)]
            for c in held:  # both are served
                await c.write_event(Describe().event())
                assert Info.is_type((await c.read_event()).type)
            third = await connect(server.uri)
            refused = await third.read_event()
            await third.disconnect()
            await held[0].disconnect()
            await asyncio.sleep(0.3)
            after = await stream(server.uri, keyword)  # a freed slot is usable again
            # a client that goes silent (a vanished peer) is closed by the server and frees its slot
            closed = await held[1].read_event()
            await held[1].disconnect()
            return refused, after, closed

        refused, after, closed = asyncio.run(go())
        assert Error.is_type(refused.type) and Error.from_event(refused).code == "busy"
        assert kinds(after) == ["detection"]
        assert closed is None
        assert len(server.lines("refused: already 2 connections")) == 1
        assert len(server.lines("closed: no event for 2 s (--idle-timeout)")) == 1
    finally:
        server.stop()


def test_systemd_unit_verifies_and_allows_a_lan_address(tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze not available")
    unit = (REPO / "systemd" / "kws-wyoming.service").read_text()
    kws_path = Path(sys.executable).with_name("kws")
    (tmp_path / "kws-wyoming.service").write_text(unit.replace("/usr/local/bin/kws", str(kws_path)))
    r = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "kws-wyoming.service")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    allow = [line for line in unit.splitlines() if line.startswith("IPAddressAllow=")]
    assert len(allow) == 1 and allow[0].split("=", 1)[1].split() != ["localhost"]
    for key in ("serve --uri tcp://", "--config /etc/kws/kws.yaml", "DynamicUser=yes", "ProtectSystem=strict",
                "NoNewPrivileges=yes", "IPAddressDeny=any", "MemoryMax="):
        assert key in unit


def kws_serve(*args):
    return subprocess.run([sys.executable, "-m", "kws.cli.main", "serve", *args], capture_output=True, text=True,
                          cwd=REPO, timeout=120)


def test_bad_uri_and_busy_port_are_one_line_errors():
    r = kws_serve("--uri", "ftp://host:1")
    assert r.returncode == 2 and r.stderr.strip().splitlines()[-1].startswith("kws: error: --uri ftp://host:1")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        r = kws_serve("--uri", f"tcp://127.0.0.1:{s.getsockname()[1]}")
    assert r.returncode == 2 and "kws: error: --uri" in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_zeroconf_without_its_package_is_a_one_line_error():
    import importlib.util

    if importlib.util.find_spec("zeroconf") is not None:
        pytest.skip("zeroconf is installed here")
    r = kws_serve("--uri", f"tcp://127.0.0.1:{free_port()}", "--zeroconf", "kitchen")
    assert r.returncode == 2 and "kws: error: --zeroconf needs the zeroconf package" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
