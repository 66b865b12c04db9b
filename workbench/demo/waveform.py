"""12-lead ECG Waveform Storage from a moving-dipole model of the heart."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from workbench.demo._base import ds_str
from workbench.demo._image import content_timing
from workbench.demo._modules import SeriesKind, Study, code_item, finish, new_series
from workbench.demo._seed import seeded_rng
from workbench.demo.patients import DemoPatient

__all__ = ["LEAD_NAMES", "TWELVE_LEAD_ECG_STORAGE", "ecg", "ecg_signals"]

TWELVE_LEAD_ECG_STORAGE = "1.2.840.10008.5.1.4.1.1.9.1.1"
_ECG = SeriesKind(TWELVE_LEAD_ECG_STORAGE, "ECG", "SYNTH-ECG 12")

LEAD_NAMES = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
"""Channel order of :func:`ecg` and :func:`ecg_signals`."""

# CID 3001 "ECG Leads": lead number N of LEAD_NAMES[i] is MDC code "2:N" and SCPECG code
# "5.6.3-9-N"; the code meaning is "Lead <name>" but for the augmented limb leads.
_LEAD_NUMBERS = (1, 2, 61, 62, 63, 64, 3, 4, 5, 6, 7, 8)
_AUGMENTED = {"aVR": "right", "aVL": "left", "aVF": "foot"}

# Waves of one beat: offset from the R peak (s), width (s), amplitude (mV), dipole
# direction (x = patient left, y = inferior, z = anterior), QT-scaled or not.
_WAVES = (
    (-0.165, 0.022, 0.14, (0.55, 0.82, 0.15), False),  # P
    (-0.026, 0.008, 0.22, (-0.6, 0.2, 0.75), False),  # septal q / r in V1
    (0.0, 0.011, 1.5, (0.65, 0.6, -0.2), False),  # R
    (0.028, 0.010, 0.4, (-0.5, -0.4, -0.6), False),  # S
    (0.25, 0.055, 0.28, (0.55, 0.7, 0.45), True),  # T, upstroke
    (0.30, 0.038, 0.12, (0.55, 0.7, 0.45), True),  # T, downstroke
)


def _lead_matrix() -> npt.NDArray[np.float64]:
    """Return the 12 x 3 lead vectors (Einthoven limb leads, horizontal precordials)."""
    lead_i = np.array([1.0, 0.0, 0.0])
    lead_ii = np.array([0.5, math.sqrt(3) / 2, 0.0])
    limb = [
        lead_i,
        lead_ii,
        lead_ii - lead_i,
        -(lead_i + lead_ii) / 2,
        lead_i - lead_ii / 2,
        lead_ii - lead_i / 2,
    ]
    chest = []
    for angle, gain in ((115, 1.0), (95, 1.35), (75, 1.45), (55, 1.4), (30, 1.2), (5, 1.0)):
        phi = math.radians(angle)
        chest.append(gain * np.array([math.cos(phi), 0.1, math.sin(phi)]))
    return np.vstack(limb + chest)


def ecg_signals(
    n_samples: int,
    sampling_hz: float,
    rng: np.random.Generator,
    *,
    heart_rate: float = 72.0,
    noise_uv: float = 8.0,
) -> npt.NDArray[np.float64]:
    """Return synthetic 12-lead ECG voltages in microvolts, shape (samples, 12).

    Each beat is a sum of Gaussian waves (P, QRS, T) of a dipole that is projected onto
    the 12 lead vectors, so limb leads obey Einthoven's law before noise is added.

    Parameters
    ----------
    n_samples, sampling_hz
        Length and rate of the signal.
    rng
        Randomness of the RR intervals, baseline wander and noise.
    heart_rate
        Mean rate in beats per minute.
    noise_uv
        Standard deviation of the white noise.

    Returns
    -------
    numpy.ndarray
        Float64 microvolts, channels in :data:`LEAD_NAMES` order.
    """
    if not 20.0 <= heart_rate <= 300.0:
        raise ValueError(f"heart_rate must be 20-300 beats per minute, got {heart_rate}")
    if sampling_hz <= 0:
        raise ValueError("sampling_hz must be positive")
    t = np.arange(n_samples) / sampling_hz
    duration = n_samples / sampling_hz
    rr_mean = 60.0 / heart_rate
    peaks = []
    tr = 0.2 + float(rng.uniform(0.0, 0.4)) * rr_mean
    while tr < duration + 1.0:
        peaks.append(tr)
        resp = 0.03 * math.sin(2 * math.pi * 0.25 * tr)
        tr += rr_mean * (1.0 + resp + 0.015 * float(rng.standard_normal()))
    dipole = np.zeros((n_samples, 3))
    for tr in peaks:
        qt_scale = math.sqrt(rr_mean)
        near = np.abs(t - tr) < 1.2
        local = t[near] - tr
        for offset, width, amp, direction, scaled in _WAVES:
            center = offset * qt_scale if scaled else offset
            shape = amp * np.exp(-0.5 * ((local - center) / width) ** 2)
            dipole[near] += np.outer(shape, direction)
    leads = 1000.0 * dipole @ _lead_matrix().T
    phases = rng.uniform(0, 2 * math.pi, size=(2, 12))
    leads += 40.0 * np.sin(2 * math.pi * 0.22 * t[:, None] + phases[0])
    leads += 4.0 * np.sin(2 * math.pi * 50.0 * t[:, None] + phases[1])
    leads += noise_uv * rng.standard_normal((n_samples, 12))
    return leads


def _lead_source(index: int, lead_coding: str) -> Dataset:
    """Return the Channel Source Sequence item of lead `index` (CID 3001)."""
    name, number = LEAD_NAMES[index], _LEAD_NUMBERS[index]
    side = _AUGMENTED.get(name)
    meaning = f"{name}, augmented voltage, {side}" if side else f"Lead {name}"
    if lead_coding == "MDC":
        return code_item(f"2:{number}", "MDC", meaning)
    return code_item(f"5.6.3-9-{number}", "SCPECG", meaning, "1.3")


def _channel(index: int, *, sensitivity: float, lead_coding: str, notch_hz: float) -> Dataset:
    ch = Dataset()
    ch.ChannelLabel = LEAD_NAMES[index]
    ch.ChannelStatus = ["OK"]
    ch.ChannelSourceSequence = Sequence([_lead_source(index, lead_coding)])
    ch.ChannelSensitivity = ds_str(sensitivity)
    ch.ChannelSensitivityUnitsSequence = Sequence([code_item("uV", "UCUM", "microvolt")])
    ch.ChannelSensitivityCorrectionFactor = "1"
    ch.ChannelBaseline = "0"
    ch.ChannelTimeSkew = "0"
    ch.WaveformBitsStored = 16
    ch.FilterLowFrequency = "0.05"
    ch.FilterHighFrequency = "150"
    ch.NotchFilterFrequency = ds_str(notch_hz)
    return ch


def ecg(
    patient: DemoPatient,
    *,
    seed: int,
    seconds: float = 10.0,
    sampling_hz: int = 500,
    heart_rate: float = 72.0,
    sensitivity_uv: float = 2.5,
    lead_coding: str = "MDC",
    study_uid: str | None = None,
    study_date: str = "20260101",
    study_time: str = "090000",
    accession: str = "",
    study_description: str = "",
    referring_physician: str = "",
    series_number: int = 1,
    description: str = "RESTING 12-LEAD ECG",
) -> Dataset:
    """Return a resting 12-lead ECG (12-Lead ECG Waveform Storage).

    One multiplex group of 12 channels (I, II, III, aVR, aVL, aVF, V1-V6), signed
    16-bit samples scaled by ``ChannelSensitivity`` microvolts per unit; pydicom's
    ``ds.waveform_array(0)`` returns microvolts.

    Parameters
    ----------
    patient, seed
        Whose ECG; the seed fixes UIDs and signal.
    seconds, sampling_hz
        Duration and rate; the IOD allows 200-1000 Hz and at most 16384 samples.
    heart_rate
        Mean rate in beats per minute.
    sensitivity_uv
        Microvolts per sample unit (Channel Sensitivity).
    lead_coding
        ``"MDC"`` (current CID 3001 codes) or ``"SCPECG"`` (retired codes).
    study_uid, study_date, study_time, accession, study_description, referring_physician
        General Study attributes (see :func:`workbench.demo.ct_series`).
    series_number, description
        General Series attributes.

    Returns
    -------
    Dataset
        The waveform instance, with file meta.
    """
    if not 200 <= sampling_hz <= 1000:
        raise ValueError("SamplingFrequency must be 200-1000 Hz for a 12-lead ECG")
    n_samples = round(seconds * sampling_hz)
    if not 1 <= n_samples <= 16384:
        raise ValueError("NumberOfWaveformSamples must be 1-16384 for a 12-lead ECG")
    if lead_coding not in ("MDC", "SCPECG"):
        raise ValueError("lead_coding must be 'MDC' or 'SCPECG'")
    if sensitivity_uv <= 0:
        raise ValueError("ChannelSensitivity must be positive")
    study = Study(
        study_uid, study_date, study_time, accession, study_description, referring_physician
    )
    ds = new_series(_ECG, patient, seed, study, series_number, description, "")
    content_timing(ds, datetime=True)
    ds.AcquisitionContextSequence = Sequence()

    rng = seeded_rng(seed, 6)
    microvolts = ecg_signals(n_samples, sampling_hz, rng, heart_rate=heart_rate)
    raw = np.clip(np.rint(microvolts / sensitivity_uv), -32768, 32767).astype("<i2")
    group = Dataset()
    group.WaveformOriginality = "ORIGINAL"
    group.NumberOfWaveformChannels = 12
    group.NumberOfWaveformSamples = n_samples
    group.SamplingFrequency = ds_str(sampling_hz)
    group.MultiplexGroupLabel = "RHYTHM"
    group.ChannelDefinitionSequence = Sequence(
        [
            _channel(i, sensitivity=sensitivity_uv, lead_coding=lead_coding, notch_hz=50.0)
            for i in range(12)
        ]
    )
    group.WaveformBitsAllocated = 16
    group.WaveformSampleInterpretation = "SS"
    group.add_new(0x54001010, "OW", raw.tobytes())
    ds.WaveformSequence = Sequence([group])
    return finish(ds, 1)
