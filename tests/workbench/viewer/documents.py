"""An Encapsulated PDF instance (PS3.3 A.45.1) for the document viewer's tests."""

from __future__ import annotations

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from workbench.viewer.series import ENCAPSULATED_PDF


def tiny_pdf(text: str = "workbench test report") -> bytes:
    """A one-page PDF 1.4 document showing `text` (ASCII), with a correct xref table."""
    stream = f"BT /F1 18 Tf 40 100 Td ({text}) Tj ET".encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 400 200] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


def make_pdf(like: Dataset, *, series_number: int = 90, text: str = "workbench test report"
             ) -> Dataset:
    """An Encapsulated PDF in the study (and for the patient) of `like`."""
    ds = Dataset()
    for keyword in ("PatientName", "PatientID", "IssuerOfPatientID", "PatientBirthDate",
                    "PatientSex", "StudyInstanceUID", "StudyDate", "StudyTime",
                    "AccessionNumber", "StudyDescription", "StudyID",
                    "ReferringPhysicianName"):
        if keyword in like:
            setattr(ds, keyword, like[keyword].value)
    ds.SOPClassUID = ENCAPSULATED_PDF
    ds.SOPInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "DOC"
    ds.SeriesNumber = series_number
    ds.SeriesDescription = "REPORT PDF"
    ds.InstanceNumber = 1
    ds.ConversionType = "WSD"
    ds.BurnedInAnnotation = "YES"
    ds.DocumentTitle = "Report"
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    ds.ContentDate, ds.ContentTime = ds.get("StudyDate", ""), ds.get("StudyTime", "")
    ds.AcquisitionDateTime = ""
    ds.ConceptNameCodeSequence = []
    document = tiny_pdf(text)
    ds.EncapsulatedDocument = document + (b"\0" if len(document) % 2 else b"")
    ds.EncapsulatedDocumentLength = len(document)
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return ds
