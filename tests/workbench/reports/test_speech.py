"""Speech: PocketSphinx's bundled model transcribes phrases synthesised with espeak-ng."""

from __future__ import annotations

import io
import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from workbench.reports.speech import (
    COMMANDS,
    PHRASES,
    Audio,
    PocketSphinxEngine,
    command_of,
    engines,
    read_wav,
)

ESPEAK = shutil.which("espeak-ng")
needs_espeak = pytest.mark.skipif(ESPEAK is None, reason="espeak-ng is not installed "
                                  "(apt-get install espeak-ng)")


@pytest.fixture(scope="module")
def engine() -> PocketSphinxEngine:
    return PocketSphinxEngine()


def _speak(text: str, folder: Path, speed: int = 160) -> bytes:
    out = folder / "speech.wav"
    assert ESPEAK is not None
    subprocess.run([ESPEAK, "-s", str(speed), "-w", str(out), text], check=True)
    return out.read_bytes()


@needs_espeak
@pytest.mark.parametrize("phrase", ["sign the report", "insert impression",
                                    "no evidence of ischemia", "small pericardial effusion",
                                    "clinical correlation is recommended"])
def test_transcribes_synthesised_speech(engine: PocketSphinxEngine, phrase: str,
                                        tmp_path: Path) -> None:
    heard = engine.transcribe(read_wav(_speak(phrase, tmp_path)))
    assert heard.text == phrase
    assert heard.command == COMMANDS.get(phrase)


@needs_espeak
def test_a_narrower_grammar(engine: PocketSphinxEngine, tmp_path: Path) -> None:
    heard = engine.transcribe(read_wav(_speak("moderate ischemia", tmp_path)),
                              ["moderate ischemia", "severe ischemia", "mild ischemia"])
    assert heard.text == "moderate ischemia" and heard.command is None


def test_unknown_words_are_named(engine: PocketSphinxEngine) -> None:
    assert engine.unknown_words(["normal study", "zzyzx qwxz"]) == ["qwxz", "zzyzx"]
    with pytest.raises(ValueError, match="zzyzx"):
        engine.transcribe(Audio(np.zeros(1600, np.int16), 16000), ["zzyzx"])
    assert set(PHRASES) and not engine.unknown_words(PHRASES)


def test_silence_is_not_a_phrase(engine: PocketSphinxEngine) -> None:
    heard = engine.transcribe(Audio(np.zeros(16000, np.int16), 16000))
    assert heard.command is None and heard.text not in COMMANDS


def test_wav_reading_mixes_and_scales() -> None:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(np.array([[1000, 3000], [-2000, 0]], "<i2").tobytes())
    audio = read_wav(buffer.getvalue())
    assert audio.rate == 8000 and audio.samples.tolist() == [2000, -1000]
    with pytest.raises(ValueError, match="not a PCM WAV"):
        read_wav(b"OggS" + bytes(100))


def test_commands_and_engines() -> None:
    assert command_of("  Go to   IMPRESSION ") == "go-impression"
    assert command_of("go to the beach") is None
    assert "pocketsphinx" in engines()
