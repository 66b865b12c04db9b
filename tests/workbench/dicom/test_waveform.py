"""Waveforms as calibrated leads (PS3.3 C.10.9): names, units, rate, sample encodings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from tests.synth import make_ct, make_ecg
from workbench.demo._seed import seeded_rng
from workbench.demo.waveform import LEAD_NAMES, ecg_signals
from workbench.dicom.waveform import multiplex_groups, waveform_array
from workbench.errors import InvalidDicomError, NotFoundError


def test_twelve_lead_ecg_in_millivolts() -> None:
    ds = make_ecg(seed=3, seconds=2.0)
    leads = waveform_array(ds)
    assert leads.dims == ("lead", "time") and leads.shape == (12, 1000)
    assert list(leads.lead.values) == list(LEAD_NAMES)
    assert leads.code_meaning.values[3] == "aVR, augmented voltage, right"
    assert leads.attrs["units"] == "mV" and set(leads.units.values) == {"mV"}
    assert leads.attrs["sampling_frequency"] == 500.0
    assert leads.attrs["multiplex_group_label"] == "RHYTHM"
    np.testing.assert_allclose(leads.time[:3], [0.0, 0.002, 0.004])
    assert leads.time.attrs["units"] == "s"
    microvolts = ecg_signals(1000, 500.0, seeded_rng(3, 6))  # what the generator stored
    stored = np.clip(np.rint(microvolts / 2.5), -32768, 32767) * 2.5
    np.testing.assert_allclose(leads.values, stored.T / 1000.0)
    micro = waveform_array(ds, voltage_unit="uV")
    np.testing.assert_allclose(micro.values, leads.values * 1000.0)


def test_groups_describe_channels() -> None:
    (group,) = multiplex_groups(make_ecg(lead_coding="SCPECG"))
    assert group.sampling_frequency == 500.0 and group.samples == 1000
    assert group.originality == "ORIGINAL" and group.time_offset == 0.0
    assert [c.name for c in group.channels] == list(LEAD_NAMES)
    assert group.channels[0].coding_scheme == "SCPECG" and group.channels[0].units == "uV"
    assert multiplex_groups(make_ct(n=1)[0]) == ()


def test_sensitivity_correction_baseline_and_mixed_units() -> None:
    ds = make_ecg(seconds=1.0)
    item = ds.WaveformSequence[0]
    raw = np.frombuffer(item.WaveformData, "<i2").reshape(-1, 12)
    first = item.ChannelDefinitionSequence[0]
    first.ChannelSensitivityCorrectionFactor = "2"
    first.ChannelBaseline = "100"  # in the sensitivity units (uV)
    pressure = item.ChannelDefinitionSequence[1]
    pressure.ChannelSensitivityUnitsSequence[0].CodeValue = "mm[Hg]"
    pressure.ChannelSensitivity = "0.1"
    item.MultiplexGroupTimeOffset = "250"
    leads = waveform_array(ds)
    np.testing.assert_allclose(leads.values[0], (raw[:, 0] * 2.5 * 2 + 100) / 1000.0)
    np.testing.assert_allclose(leads.values[1], raw[:, 1] * 0.1)
    assert leads.attrs["units"] == "mixed" and leads.units.values[1] == "mm[Hg]"
    assert float(leads.time[0]) == 0.25


def waveform(interpretation: str, data: bytes, bits: int = 8, **group: object) -> Dataset:
    """One group of one channel of samples `data`."""
    channel = Dataset()
    channel.ChannelLabel = "MIC"
    item = Dataset()
    item.SamplingFrequency = "8000"
    item.NumberOfWaveformChannels = 1
    item.NumberOfWaveformSamples = len(data) * 8 // bits
    item.WaveformBitsAllocated = bits
    item.WaveformSampleInterpretation = interpretation
    item.ChannelDefinitionSequence = Sequence([channel])
    item.add_new(0x54001010, "OB" if bits == 8 else "OW", data)
    for keyword, value in group.items():
        setattr(item, keyword, value)
    ds = Dataset()
    ds.Modality = "AU"
    ds.WaveformSequence = Sequence([item])
    return ds


@pytest.mark.parametrize(
    ("interpretation", "data", "expected"),
    [
        ("MB", bytes([0xFF, 0x00, 0x80, 0x7F]), [0, -32124, 32124, 0]),  # G.711 mu-law
        ("AB", bytes([0xD5, 0x55, 0xAA, 0x2A]), [8, -8, 32256, -32256]),  # G.711 A-law
        ("SB", bytes([0x80, 0xFF, 0x01, 0x00]), [-128, -1, 1, 0]),
        ("UB", bytes([0x80, 0xFF, 0x01, 0x00]), [128, 255, 1, 0]),
    ],
)
def test_eight_bit_encodings(interpretation: str, data: bytes, expected: list[int]) -> None:
    leads = waveform_array(waveform(interpretation, data))
    assert list(leads.lead.values) == ["MIC"] and leads.attrs["units"] == ""
    np.testing.assert_array_equal(leads.values[0], expected)


def test_big_endian_and_padding() -> None:
    values = np.array([1, -2, 300, -32768], dtype=">i2")
    ds = waveform("SS", values.tobytes(), bits=16,
                  WaveformPaddingValue=np.array([-32768], ">i2").tobytes())  # fmt: skip
    ds.set_original_encoding(False, False)
    leads = waveform_array(ds)
    np.testing.assert_array_equal(leads.values[0, :3], [1, -2, 300])
    assert np.isnan(leads.values[0, 3])


def test_errors() -> None:
    ds = make_ecg(seconds=1.0)
    with pytest.raises(NotFoundError, match="group 1"):
        waveform_array(ds, 1)
    with pytest.raises(ValueError, match="voltage_unit"):
        waveform_array(ds, voltage_unit="kV")
    with pytest.raises(InvalidDicomError, match="WaveformSampleInterpretation"):
        waveform_array(waveform("XX", b"\x00\x01"))
    short = waveform("SS", b"\x00\x01\x02\x03", bits=16)
    short.WaveformSequence[0].NumberOfWaveformSamples = 5
    with pytest.raises(InvalidDicomError, match="too few"):
        waveform_array(short)
    with pytest.raises(InvalidDicomError, match="SamplingFrequency"):
        multiplex_groups(waveform("SB", b"\x00", SamplingFrequency="0"))


@pytest.mark.corpus
@pytest.mark.parametrize(
    ("name", "groups", "rate"),
    [("dicom-ecg-plot/anonymous_ecg.dcm", 2, 1000.0), ("dicomParser/deflate/wave_dfl", 1, 240.0)],
)
def test_corpus_waveforms(corpus: Path, name: str, groups: int, rate: float) -> None:
    ds = dcmread(corpus / name)
    found = multiplex_groups(ds)
    assert len(found) == groups
    for group in found:
        leads = waveform_array(ds, group.index)
        assert leads.attrs["sampling_frequency"] == rate
        assert list(leads.lead.values) == list(LEAD_NAMES)
        assert leads.attrs["units"] == "mV"
        peak = float(np.nanmax(np.abs(leads.values)))
        assert 0.3 < peak < 10.0, peak  # an ECG measures millivolts
