"""Speech recognition for reporting: an engine interface, an offline engine, commands.

- :class:`SpeechEngine` is what an engine offers: ``transcribe(audio, phrases)``.
- :class:`PocketSphinxEngine` runs CMU PocketSphinx with the US English acoustic model
  and dictionary that the ``pocketsphinx`` wheel ships, on a grammar of commands and
  constrained phrases (nothing is downloaded at run time). It recognises what is in
  its grammar, not free dictation.
- A free-dictation engine plugs in as an entry point in the group
  ``workbench.speech_engines`` (a callable returning a :class:`SpeechEngine`);
  :func:`engines` lists the built-in engine and those installed.

Audio is WAV (PCM, any rate and channel count); it is mixed to mono, low-pass filtered
and resampled to 16 kHz, and 0.5 s of faint noise is added before and after: the
decoder needs some room tone around an utterance to place its start and end.
"""

from __future__ import annotations

import io
import re
import threading
import wave
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import Protocol

import numpy as np
import numpy.typing as npt

__all__ = ["COMMANDS", "LEXICON", "PHRASES", "Audio", "PocketSphinxEngine", "SpeechEngine",
           "Transcript", "command_of", "engines", "read_wav"]

RATE = 16000
COMMANDS: dict[str, str] = {
    "next field": "next-field", "previous field": "previous-field",
    "go to findings": "go-findings", "go to impression": "go-impression",
    "insert findings": "go-findings", "insert impression": "go-impression",
    "new paragraph": "new-paragraph", "delete that": "undo", "undo that": "undo",
    "start dictation": "start", "stop dictation": "stop",
    "insert measurements": "insert-measurements", "insert key images": "insert-key-images",
    "preview report": "preview", "sign the report": "sign",
}
"""Spoken commands and what they do in the report form."""

PHRASES: tuple[str, ...] = (
    "normal study", "no acute findings", "unchanged from prior", "no change",
    "normal left ventricular size and function", "normal myocardial perfusion",
    "no evidence of ischemia", "no evidence of infarction",
    "mild left ventricular hypertrophy", "small pericardial effusion",
    "no pericardial effusion", "clinical correlation is recommended",
    "follow up is recommended", "findings were discussed with the referring physician",
)
"""Constrained phrases dictated into text fields."""

LEXICON: dict[str, str] = {
    "effusion": "IH F Y UW ZH AH N", "pericardial": "P EH R AH K AA R D IY AH L",
    "septal": "S EH P T AH L", "hypokinesis": "HH AY P OW K AH N IY S AH S",
    "echocardiogram": "EH K OW K AA R D IY AH G R AE M", "sestamibi": "S EH S T AH M IH B IY",
    "tetrofosmin": "T EH T R OW F AA Z M IH N", "regadenoson": "R EH G AH D EH N AH S AA N",
}
"""Medical words missing from the bundled dictionary, with ARPAbet pronunciations."""


@dataclass(frozen=True)
class Audio:
    """Mono 16-bit samples at ``rate`` Hz."""

    samples: npt.NDArray[np.int16]
    rate: int

    @property
    def seconds(self) -> float:
        """Duration."""
        return len(self.samples) / self.rate


@dataclass(frozen=True)
class Transcript:
    """What an engine heard; ``command`` is set when the text is a known command."""

    text: str
    engine: str
    command: str | None = None


class SpeechEngine(Protocol):
    """A speech recogniser."""

    name: str

    def transcribe(self, audio: Audio, phrases: Sequence[str] | None = None) -> Transcript:
        """Recognise `audio`, constrained to `phrases` when the engine needs a grammar."""


def read_wav(data: bytes) -> Audio:
    """Decode a PCM WAV file to mono 16-bit samples.

    Raises
    ------
    ValueError
        Not a WAV file, or compressed (only PCM is read).
    """
    try:
        with wave.open(io.BytesIO(data)) as w:
            width, channels, rate = w.getsampwidth(), w.getnchannels(), w.getframerate()
            frames = w.readframes(w.getnframes())
    except (wave.Error, EOFError) as exc:
        raise ValueError(f"not a PCM WAV file: {exc}") from exc
    if width == 1:
        x = (np.frombuffer(frames, np.uint8).astype(np.float64) - 128) * 256
    elif width == 2:
        x = np.frombuffer(frames, "<i2").astype(np.float64)
    elif width == 4:
        x = np.frombuffer(frames, "<i4").astype(np.float64) / 65536
    else:
        raise ValueError(f"{8 * width}-bit WAV samples are not supported")
    x = x.reshape(-1, channels).mean(axis=1)
    return Audio(np.clip(np.round(x), -32768, 32767).astype(np.int16), rate)


def _lowpass(x: npt.NDArray[np.float64], cutoff: float, rate: int) -> npt.NDArray[np.float64]:
    taps = np.arange(101) - 50
    h = np.sinc(2 * cutoff / rate * taps) * np.hamming(101)
    return np.convolve(x, h / h.sum(), mode="same")


def prepared(audio: Audio, pad_s: float = 0.5) -> bytes:
    """16 kHz mono 16-bit little-endian samples, padded with faint noise (seeded)."""
    x = audio.samples.astype(np.float64)
    if audio.rate != RATE:
        if audio.rate > RATE:
            x = _lowpass(x, 0.95 * RATE / 2, audio.rate)
        n = int(round(len(x) * RATE / audio.rate))
        x = np.interp(np.arange(n) * audio.rate / RATE, np.arange(len(x)), x)
    pad = np.zeros(int(pad_s * RATE))
    x = np.concatenate([pad, x, pad])
    x = x + np.random.default_rng(0).normal(0.0, 8.0, len(x))
    return np.clip(np.round(x), -32768, 32767).astype("<i2").tobytes()


def command_of(text: str) -> str | None:
    """The command `text` names, if any.

    Examples
    --------
    >>> command_of("Sign the report")
    'sign'
    """
    return COMMANDS.get(" ".join(text.lower().split()))


class PocketSphinxEngine:
    """Commands and constrained phrases with PocketSphinx's bundled US English model.

    Parameters
    ----------
    phrases
        The phrases (besides :data:`COMMANDS`) it can recognise; :data:`PHRASES` by
        default. Every word must be in the bundled dictionary.
    """

    name = "pocketsphinx"

    def __init__(self, phrases: Sequence[str] = PHRASES) -> None:
        from workbench.imaging._optional import require

        ps = require("pocketsphinx", "speech recognition", "speech")
        self._decoder = ps.Decoder(ps.Config(lm=None, samprate=RATE, loglevel="FATAL"))
        for word, phones in LEXICON.items():
            if self._decoder.lookup_word(word) is None:
                self._decoder.add_word(word, phones, False)
        self._lock = threading.Lock()
        self._grammars: dict[tuple[str, ...], str] = {}
        self.phrases = tuple(phrases)
        self._activate(self.phrases)

    def unknown_words(self, phrases: Sequence[str]) -> list[str]:
        """Words of `phrases` the dictionary does not have."""
        words = {w for p in phrases for w in self._words(p)}
        return sorted(w for w in words if self._decoder.lookup_word(w) is None)

    @staticmethod
    def _words(phrase: str) -> list[str]:
        return re.findall(r"[a-z']+", phrase.lower())

    def _activate(self, phrases: tuple[str, ...]) -> None:
        key = tuple(sorted(set(phrases) | set(COMMANDS)))
        name = self._grammars.get(key)
        if name is None:
            unknown = self.unknown_words(key)
            if unknown:
                raise ValueError(f"words not in the speech dictionary: {', '.join(unknown)}")
            name = f"g{len(self._grammars)}"
            alternatives = " | ".join(" ".join(self._words(p)) for p in key)
            self._decoder.add_jsgf_string(
                name, f"#JSGF V1.0;\ngrammar {name};\npublic <utterance> = {alternatives};\n")
            self._grammars[key] = name
        self._decoder.activate_search(name)

    def transcribe(self, audio: Audio, phrases: Sequence[str] | None = None) -> Transcript:
        """Recognise one utterance; empty text when nothing in the grammar matched."""
        raw = prepared(audio)
        with self._lock:
            self._activate(tuple(phrases) if phrases is not None else self.phrases)
            self._decoder.start_utt()
            self._decoder.process_raw(raw, full_utt=True)
            self._decoder.end_utt()
            hyp = self._decoder.hyp()
        text = hyp.hypstr if hyp is not None else ""
        return Transcript(text, self.name, command_of(text))


def engines() -> dict[str, Callable[[], SpeechEngine]]:
    """Engine factories by name: ``pocketsphinx`` and installed ``workbench.speech_engines``
    entry points."""
    found: dict[str, Callable[[], SpeechEngine]] = {"pocketsphinx": PocketSphinxEngine}
    for entry in metadata.entry_points(group="workbench.speech_engines"):
        found[entry.name] = entry.load()
    return found
