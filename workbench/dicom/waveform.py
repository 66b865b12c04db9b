"""Waveforms (ECG, hemodynamic, audio) as calibrated ``xarray.DataArray`` leads.

A waveform IOD holds one or more multiplex groups (PS3.3 C.10.9 Waveform module);
each group samples several channels at one Sampling Frequency, interleaved sample by
sample. :func:`waveform_array` returns one group with dims ``("lead", "time")``:
``lead`` holds short lead names (``"I"``, ``"aVR"``, ``"V1"``) from the Channel
Source Sequence codes (CID 3001), ``time`` seconds from the group's start
(Multiplex Group Time Offset, else 0). Values are physical: ``sample x Channel
Sensitivity x Channel Sensitivity Correction Factor + Channel Baseline`` (PS3.3
C.10.9.1.4.3), in the Channel Sensitivity Units (UCUM), voltages converted to
millivolts by default. Padding samples are NaN.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import xarray as xr
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from workbench.errors import InvalidDicomError, NotFoundError

__all__ = [
    "MultiplexGroup", "VOLTAGE_UNITS", "WaveformChannel", "multiplex_groups", "waveform_array",
]  # fmt: skip

VOLTAGE_UNITS: dict[str, float] = {"nV": 1e-9, "uV": 1e-6, "mV": 1e-3, "V": 1.0}
"""UCUM voltage units and their size in volts."""

# Waveform Sample Interpretation (PS3.3 C.10.9.1.5) -> numpy type of one sample.
_SAMPLE_TYPES = {"SB": "i1", "UB": "u1", "MB": "u1", "AB": "u1", "SS": "i2", "US": "u2",
                 "SL": "i4", "UL": "u4", "SV": "i8", "UV": "u8"}  # fmt: skip
# Lead number N of the MDC code "2:N" and the SCPECG code "5.6.3-9-N" (CID 3001).
_LEADS = {1: "I", 2: "II", 61: "III", 62: "aVR", 63: "aVL", 64: "aVF", 3: "V1", 4: "V2",
          5: "V3", 6: "V4", 7: "V5", 8: "V6", 9: "V7", 10: "V2R", 11: "V3R", 12: "V4R",
          13: "V5R", 14: "V6R", 15: "V7R", 16: "X", 17: "Y", 18: "Z"}  # fmt: skip


@dataclass(frozen=True)
class WaveformChannel:
    """One channel of a multiplex group (Channel Definition Sequence item).

    Attributes
    ----------
    name
        Short lead name (see module), unique within its group.
    code_meaning, code_value, coding_scheme
        The Channel Source Sequence code (empty when absent).
    label
        Channel Label, as written.
    units
        UCUM code of Channel Sensitivity Units (``""`` when absent).
    sensitivity, correction, baseline
        Channel Sensitivity (units per sample unit; 1 when absent), Sensitivity
        Correction Factor (1) and Channel Baseline (0, in `units`).
    skew
        Channel Time Skew in seconds.
    """

    name: str
    code_meaning: str
    code_value: str
    coding_scheme: str
    label: str
    units: str
    sensitivity: float
    correction: float
    baseline: float
    skew: float


@dataclass(frozen=True)
class MultiplexGroup:
    """One Waveform Sequence item: channels sampled together.

    Attributes
    ----------
    index
        Zero-based position in the Waveform Sequence.
    label
        Multiplex Group Label (``"RHYTHM"``, ``"MEDIAN"``), may be empty.
    sampling_frequency
        Samples per second (Hz).
    samples
        Number of Waveform Samples per channel.
    time_offset
        Multiplex Group Time Offset in seconds (0 when absent).
    originality
        Waveform Originality: ``"ORIGINAL"`` or ``"DERIVED"``.
    channels
        In the order of the Channel Definition Sequence.
    """

    index: int
    label: str
    sampling_frequency: float
    samples: int
    time_offset: float
    originality: str
    channels: tuple[WaveformChannel, ...]


def multiplex_groups(ds: Dataset) -> tuple[MultiplexGroup, ...]:
    """Describe every multiplex group of `ds` (empty for a dataset without waveforms).

    Raises
    ------
    InvalidDicomError
        A group without a positive Sampling Frequency or Number of Waveform Samples.
    """
    return tuple(_group(item, k) for k, item in enumerate(ds.get("WaveformSequence") or ()))


def waveform_array(ds: Dataset, group: int = 0, *, voltage_unit: str = "mV") -> xr.DataArray:
    """Return multiplex group `group` (zero-based) as calibrated leads.

    Parameters
    ----------
    ds
        A waveform dataset (12-lead ECG, hemodynamic, audio ...).
    group
        Index into the Waveform Sequence.
    voltage_unit
        Unit of voltage channels in the result: one of :data:`VOLTAGE_UNITS`. Other
        channels (mmHg, degrees Celsius) keep their own units.

    Returns
    -------
    xarray.DataArray
        ``float64``, dims ``("lead", "time")``; coordinates ``lead`` (names),
        ``time`` (s), and along ``lead`` ``units``, ``code_meaning`` and
        ``channel_label``; attributes ``sampling_frequency`` (Hz), ``units`` (the
        common unit, or ``"mixed"``), ``multiplex_group_label``,
        ``waveform_originality``, ``modality``, ``sop_instance_uid``.

    Raises
    ------
    NotFoundError
        No such group.
    InvalidDicomError
        Waveform Data missing, too short, or an unknown sample interpretation.
    ValueError
        `voltage_unit` is not a known voltage unit.

    Examples
    --------
    >>> from workbench.demo import DEMO_PATIENTS, ecg
    >>> leads = waveform_array(ecg(DEMO_PATIENTS[0], seed=1, seconds=2.0))
    >>> leads.dims, leads.sizes["time"], leads.attrs["units"]
    (('lead', 'time'), 1000, 'mV')
    >>> leads.lead.values[:4].tolist()
    ['I', 'II', 'III', 'aVR']
    """
    if voltage_unit not in VOLTAGE_UNITS:
        raise ValueError(f"voltage_unit {voltage_unit!r} is not one of {', '.join(VOLTAGE_UNITS)}")
    items = ds.get("WaveformSequence") or ()
    if not 0 <= group < len(items):
        raise NotFoundError(f"waveform multiplex group {group} does not exist ({len(items)})")
    item = items[group]
    info = _group(item, group)
    raw = _samples(item, ds, info)
    values = np.empty(raw.shape, dtype=np.float64)
    units: list[str] = []
    for k, channel in enumerate(info.channels):
        scale = channel.sensitivity * channel.correction
        values[k] = raw[k] * scale + channel.baseline
        if channel.units in VOLTAGE_UNITS:
            values[k] *= VOLTAGE_UNITS[channel.units] / VOLTAGE_UNITS[voltage_unit]
            units.append(voltage_unit)
        else:
            units.append(channel.units)
    time = info.time_offset + np.arange(info.samples) / info.sampling_frequency
    return xr.DataArray(
        values,
        dims=("lead", "time"),
        coords={
            "lead": [c.name for c in info.channels],
            "time": ("time", time, {"units": "s"}),
            "units": ("lead", units),
            "code_meaning": ("lead", [c.code_meaning for c in info.channels]),
            "channel_label": ("lead", [c.label for c in info.channels]),
        },
        attrs={
            "sampling_frequency": info.sampling_frequency,
            "units": units[0] if len(set(units)) == 1 else "mixed",
            "multiplex_group_label": info.label,
            "waveform_originality": info.originality,
            "modality": str(ds.get("Modality", "")),
            "sop_instance_uid": str(ds.get("SOPInstanceUID", "")),
        },
    )


# -- helpers -------------------------------------------------------------------------


def _group(item: Dataset, index: int) -> MultiplexGroup:
    frequency = _number(item.get("SamplingFrequency"), 0.0)
    samples = int(item.get("NumberOfWaveformSamples") or 0)
    if frequency <= 0 or samples <= 0:
        raise InvalidDicomError(
            f"waveform group {index}: SamplingFrequency and NumberOfWaveformSamples must be "
            "positive"
        )
    channels: list[WaveformChannel] = []
    for k, definition in enumerate(item.get("ChannelDefinitionSequence") or ()):
        channels.append(_channel(definition, k, {c.name for c in channels}))
    return MultiplexGroup(
        index, str(item.get("MultiplexGroupLabel", "") or ""), frequency, samples,
        _number(item.get("MultiplexGroupTimeOffset"), 0.0) / 1000.0,
        str(item.get("WaveformOriginality", "") or ""), tuple(channels),
    )  # fmt: skip


def _channel(definition: Dataset, k: int, taken: set[str]) -> WaveformChannel:
    source = (definition.get("ChannelSourceSequence") or [Dataset()])[0]
    units = (definition.get("ChannelSensitivityUnitsSequence") or [Dataset()])[0]
    meaning, code = str(source.get("CodeMeaning", "")), str(source.get("CodeValue", ""))
    label = str(definition.get("ChannelLabel", "") or "")
    name = _lead_name(code, meaning) or label or f"channel {k + 1}"
    unique, n = name, 2
    while unique in taken:
        unique, n = f"{name} ({n})", n + 1
    return WaveformChannel(
        unique, meaning, code, str(source.get("CodingSchemeDesignator", "")), label,
        str(units.get("CodeValue", "")), _number(definition.get("ChannelSensitivity"), 1.0),
        _number(definition.get("ChannelSensitivityCorrectionFactor"), 1.0),
        _number(definition.get("ChannelBaseline"), 0.0),
        _number(definition.get("ChannelTimeSkew"), 0.0),
    )  # fmt: skip


def _lead_name(code: str, meaning: str) -> str:
    """Short name of a CID 3001 lead: from the code's lead number, else the meaning."""
    for prefix in ("2:", "5.6.3-9-"):
        if code.startswith(prefix) and code[len(prefix) :].isdigit():
            number = int(code[len(prefix) :])
            if number in _LEADS:
                return _LEADS[number]
    text = meaning.split(",")[0].strip()
    return text[5:].strip() if text.lower().startswith("lead ") else text


def _samples(item: Dataset, ds: Dataset, info: MultiplexGroup) -> npt.NDArray[np.float64]:
    """Raw samples as ``(channels, samples)`` floats, padding NaN."""
    interpretation = str(item.get("WaveformSampleInterpretation", ""))
    if interpretation not in _SAMPLE_TYPES:
        raise InvalidDicomError(
            f"WaveformSampleInterpretation {interpretation!r} is not one of "
            f"{', '.join(_SAMPLE_TYPES)}"
        )
    data = item.get("WaveformData")
    if not isinstance(data, bytes | bytearray):
        raise InvalidDicomError(f"waveform group {info.index} has no WaveformData")
    order = ">" if ds.original_encoding[1] is False else "<"
    dtype = np.dtype(order + _SAMPLE_TYPES[interpretation])
    channels = len(info.channels) or int(item.get("NumberOfWaveformChannels") or 1)
    count = channels * info.samples
    if len(data) < count * dtype.itemsize:
        raise InvalidDicomError(
            f"WaveformData holds {len(data)} bytes, too few for {info.samples} samples of "
            f"{channels} channels ({dtype.itemsize} bytes each)"
        )
    raw = np.frombuffer(data, dtype=dtype, count=count).reshape(info.samples, channels).T
    padding = item.get("WaveformPaddingValue")
    out = _companded(raw, interpretation)
    if isinstance(padding, bytes | bytearray) and len(padding) >= dtype.itemsize:
        out[raw == np.frombuffer(padding, dtype=dtype, count=1)[0]] = np.nan
    return out


def _companded(raw: npt.NDArray[Any], interpretation: str) -> npt.NDArray[np.float64]:
    """Linear values of 8-bit mu-law (MB) or A-law (AB) samples (ITU-T G.711)."""
    if interpretation == "MB":
        u = (~raw.astype(np.int64)) & 0xFF
        magnitude = (((u & 0x0F) << 3) + 0x84 << ((u >> 4) & 0x07)) - 0x84
        return np.where(u & 0x80, -magnitude, magnitude).astype(np.float64)
    if interpretation == "AB":
        a = raw.astype(np.int64) ^ 0x55
        exponent, mantissa = (a >> 4) & 0x07, a & 0x0F
        shifted = ((mantissa << 4) + 0x108) << np.maximum(exponent - 1, 0)
        magnitude = np.where(exponent == 0, (mantissa << 4) + 8, shifted)
        return np.where(a & 0x80, magnitude, -magnitude).astype(np.float64)
    return raw.astype(np.float64)


def _number(value: Any, default: float) -> float:
    if isinstance(value, MultiValue | list | tuple):
        value = value[0] if len(value) else None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if np.isfinite(number) else default
