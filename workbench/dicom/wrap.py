"""Wrap non-DICOM files as DICOM so that other PACS receive them too.

- PDF -> Encapsulated PDF Storage (PS3.3 A.45.1, SOP Class 1.2.840.10008.5.1.4.1.1.104.1).
- Photos and scans -> Secondary Capture Image Storage (PS3.3 A.8.1,
  1.2.840.10008.5.1.4.1.1.7), 8-bit RGB or MONOCHROME2, uncompressed.

The patient and study attributes come from the study (or patient folder) the file was
uploaded to, so the wrapped object lands in the same study and folder.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from io import BytesIO

import numpy as np
from PIL import Image
from pydicom import Dataset
from pydicom.dataset import FileMetaDataset
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, UID, ExplicitVRLittleEndian, generate_uid

ENCAPSULATED_PDF = "1.2.840.10008.5.1.4.1.1.104.1"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
PATIENT_STUDY_KEYWORDS = (
    "PatientName", "PatientID", "IssuerOfPatientID", "PatientBirthDate", "PatientSex",
    "StudyInstanceUID", "StudyDate", "StudyTime", "AccessionNumber", "StudyID",
    "ReferringPhysicianName", "StudyDescription",
)


def _base(sop_class: str, modality: str, context: Mapping[str, str], title: str,
          series_uid: str | None) -> Dataset:
    now = datetime.now(UTC)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = UID(sop_class)
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = sop_class
    for keyword in PATIENT_STUDY_KEYWORDS:
        setattr(ds, keyword, context.get(keyword, ""))
    if not ds.StudyInstanceUID:
        ds.StudyInstanceUID = generate_uid()
    ds.Modality = modality
    ds.SeriesInstanceUID = series_uid or generate_uid()
    ds.SeriesNumber = 9001
    ds.SeriesDescription = "Uploaded documents" if modality == "DOC" else "Uploaded images"
    ds.InstanceNumber = 1
    ds.ContentDate = now.strftime("%Y%m%d")
    ds.ContentTime = now.strftime("%H%M%S")
    ds.InstanceCreationDate = ds.ContentDate
    ds.InstanceCreationTime = ds.ContentTime
    ds.Manufacturer = "workbench"
    ds.ConversionType = "WSD"  # workstation
    ds.DocumentTitle = title[:64] if modality == "DOC" else None
    if ds.DocumentTitle is None:
        del ds.DocumentTitle
    return ds


def encapsulated_pdf(pdf: bytes, context: Mapping[str, str], *, title: str = "Document",
                     series_uid: str | None = None) -> Dataset:
    """A DICOM Encapsulated PDF holding ``pdf``.

    Parameters
    ----------
    pdf
        The PDF file's bytes (must start with ``%PDF-``).
    context
        Patient and study attributes by keyword (see :data:`PATIENT_STUDY_KEYWORDS`).
    title
        Document Title (0042,0010), e.g. the original file name.
    series_uid
        Series to add it to; a new series by default.
    """
    if not pdf.startswith(b"%PDF-"):
        raise ValueError("EncapsulatedDocument must be a PDF (it does not start with %PDF-)")
    ds = _base(ENCAPSULATED_PDF, "DOC", context, title, series_uid)
    ds.BurnedInAnnotation = "YES"  # a document shows patient data in its content
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    ds.ConceptNameCodeSequence = []
    ds.EncapsulatedDocument = pdf + (b"\x00" if len(pdf) % 2 else b"")
    ds.EncapsulatedDocumentLength = len(pdf)
    return ds


def secondary_capture(image: bytes, context: Mapping[str, str], *, title: str = "Image",
                      series_uid: str | None = None) -> Dataset:
    """A Secondary Capture image of a photo or scan (PNG, JPEG, TIFF, ... via Pillow).

    Colour images become 8-bit RGB, greyscale ones MONOCHROME2; transparency is dropped
    onto white.
    """
    with Image.open(BytesIO(image)) as opened:
        opened.load()
        picture: Image.Image = opened
        if picture.mode in ("RGBA", "LA", "P"):
            background = Image.new("RGB", picture.size, "white")
            background.paste(picture.convert("RGBA"), mask=picture.convert("RGBA").split()[-1])
            picture = background
        grey = picture.mode in ("L", "1", "I;16", "I", "F")
        pixels = np.asarray(picture.convert("L" if grey else "RGB"), dtype=np.uint8)
    ds = _base(SECONDARY_CAPTURE, "OT", context, title, series_uid)
    ds.Rows, ds.Columns = int(pixels.shape[0]), int(pixels.shape[1])
    ds.SamplesPerPixel = 1 if grey else 3
    ds.PhotometricInterpretation = "MONOCHROME2" if grey else "RGB"
    if not grey:
        ds.PlanarConfiguration = 0
    ds.BitsAllocated = 8
    ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.ImageComments = title[:10240]
    ds.PixelData = pixels.tobytes()
    return ds
