"""What `kws serve` adds: latency per audio chunk and memory per connection.

    python -m bench.server                       # 30 s of audio in 20 ms chunks; 1, 8 and 32 connections
    python -m bench.server --chunk-ms 100 --seconds 60 --connections 1 4

A real `kws serve` process on 127.0.0.1 (shipped alexa model).  Latency: a client sends one
chunk, then a ``ping``; the server answers ``pong`` only after the chunk went through the
detector, so chunk-to-pong is the whole cost of a chunk as a client sees it (framing, TCP,
conversion, detector).  The same chunks through an in-process Spotter give the detector's
own time; the difference is what the server adds.  Memory: the server's RSS
(/proc/PID/status) idle, then with N connections open that have each streamed 2 s of audio,
so every connection holds its full stream state; (RSS_N - RSS_0) / N per connection.
Writes bench/results/server.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_audio(seconds: float) -> np.ndarray:
    """Background speech from the data folder if present, else seeded noise (the cost is the same)."""
    path = REPO.parent / "shared" / "data" / "background" / "speech" / "asterisk_en_005.ogg"
    if path.is_file():
        import soundfile as sf
        audio, _ = sf.read(path, dtype="float32", frames=int(seconds * 16000))
        return audio
    return (0.1 * np.random.default_rng(0).standard_normal(int(seconds * 16000))).astype(np.float32)


async def connect(uri):
    from wyoming.client import AsyncClient

    for _ in range(300):
        try:
            client = AsyncClient.from_uri(uri)
            await client.connect()
            return client
        except ConnectionRefusedError:
            await asyncio.sleep(0.1)
    raise RuntimeError(f"cannot connect to {uri}")


async def chunk_latency(uri: str, pcm: bytes, chunk_bytes: int) -> list[float]:
    from wyoming.audio import AudioChunk, AudioStart, AudioStop
    from wyoming.ping import Ping, Pong

    client = await connect(uri)
    await client.write_event(AudioStart(16000, 2, 1).event())
    times = []
    for i in range(0, len(pcm) - chunk_bytes + 1, chunk_bytes):
        t0 = time.perf_counter()
        await client.write_event(AudioChunk(16000, 2, 1, pcm[i:i + chunk_bytes]).event())
        await client.write_event(Ping().event())
        while not Pong.is_type((await client.read_event()).type):
            pass  # a detection event; the pong follows
        times.append(time.perf_counter() - t0)
    await client.write_event(AudioStop().event())
    await client.disconnect()
    return times


async def hold_connections(uri: str, n: int, pcm: bytes):
    """Open n connections, stream 2 s into each (full stream state), keep them open."""
    from wyoming.audio import AudioChunk, AudioStart
    from wyoming.ping import Ping

    clients = [await connect(uri) for _ in range(n)]
    for c in clients:
        await c.write_event(AudioStart(16000, 2, 1).event())
        for i in range(0, 64000, 640):
            await c.write_event(AudioChunk(16000, 2, 1, pcm[i:i + 640]).event())
        await c.write_event(Ping().event())
        await c.read_event()  # everything before the ping has been processed
    return clients


def in_process(audio: np.ndarray, chunk: int) -> list[float]:
    from kws.spotter import Spotter

    spotter = Spotter.from_models(["alexa"])
    times = []
    for i in range(0, len(audio) - chunk + 1, chunk):
        t0 = time.perf_counter()
        spotter.process(audio[i:i + chunk])
        times.append(time.perf_counter() - t0)
    return times


def ms(values, q) -> float:
    return round(1000 * float(np.percentile(values, q)), 3)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chunk-ms", type=int, default=20, help="audio per chunk (Home Assistant streams ~10-30 ms)")
    ap.add_argument("--seconds", type=float, default=30.0, help="audio streamed for the latency run")
    ap.add_argument("--connections", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "server.json")
    args = ap.parse_args(argv)

    audio = test_audio(args.seconds)
    pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()
    chunk = int(16000 * args.chunk_ms / 1000)
    uri = f"tcp://127.0.0.1:{free_port()}"
    server = subprocess.Popen([sys.executable, "-m", "kws.cli.main", "serve", "--uri", uri, "--log-level", "WARNING",
                               "--max-clients", str(max(args.connections) + 1)], cwd=REPO)
    try:
        asyncio.run(connect(uri))  # started and listening (that probe connection closes at once)
        time.sleep(0.5)
        rss_idle = rss_kib(server.pid)
        served = asyncio.run(chunk_latency(uri, pcm, chunk * 2))
        direct = in_process(audio, chunk)
        memory = {}
        for n in args.connections:
            async def measure():
                from wyoming.audio import AudioStop

                clients = await hold_connections(uri, n, pcm)
                await asyncio.sleep(0.3)
                rss = rss_kib(server.pid)
                for c in clients:
                    await c.write_event(AudioStop().event())  # a clean end, not a mid-stream disconnect
                    await c.disconnect()
                return rss
            rss = asyncio.run(measure())
            memory[n] = {"rss_mib": round(rss / 1024, 1), "per_connection_kib": round((rss - rss_idle) / n)}
            time.sleep(0.5)
    finally:
        server.terminate()
        server.wait(10)

    added = np.array(served) - np.median(direct)
    result = {
        "command": " ".join(["python -m bench.server", *(argv if argv is not None else sys.argv[1:])]),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "chunk_ms": args.chunk_ms, "chunks": len(served),
        "server_chunk_to_pong_ms": {"p50": ms(served, 50), "p90": ms(served, 90), "p99": ms(served, 99)},
        "in_process_spotter_ms": {"p50": ms(direct, 50), "p90": ms(direct, 90), "p99": ms(direct, 99)},
        "added_ms": {"p50": ms(added, 50), "p90": ms(added, 90), "p99": ms(added, 99)},
        "rss_idle_mib": round(rss_idle / 1024, 1), "connections": memory,
        # beyond the first connection (which starts the thread pool and ONNX Runtime's buffers)
        "marginal_kib_per_connection": round(
            (memory[max(memory)]["rss_mib"] - memory[min(memory)]["rss_mib"]) * 1024 / (max(memory) - min(memory)))
        if len(memory) > 1 else None,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
