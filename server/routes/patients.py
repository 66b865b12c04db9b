"""Patient folders: a patient's studies by ID and issuer, with demographic conflicts."""

from __future__ import annotations

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import func, select

from server.db.media import media
from server.db.models import patient_conflicts, patients, studies
from server.db.visibility import visible_media, visible_studies
from server.deps import MAX_ID, OffsetQuery, Reader, ServicesDep
from server.routes.media import MEDIA_LISTING, MediaItem
from server.routes.media import item as media_item
from workbench.errors import NotFoundError

router = APIRouter(tags=["Patients"])


class Conflict(BaseModel):
    """A study whose patient attribute disagrees with the folder's first demographics."""

    study_uid: str
    attribute: str
    expected: str
    received: str


class StudySummary(BaseModel):
    """A study of the folder, with the demographics it arrived with."""

    study_uid: str
    study_date: str
    description: str
    accession: str
    patient_name: str
    birth_date: str
    sex: str
    num_series: int
    num_instances: int


class PatientFolder(BaseModel):
    """All content for one patient ID within one issuer, in one account."""

    account_id: int
    patient_id: str
    issuer: str
    name: str
    birth_date: str
    sex: str
    num_studies: int
    has_conflicts: bool
    studies: list[StudySummary] = []
    conflicts: list[Conflict] = []
    media: list[MediaItem] = []


@router.get("/patients", response_model=list[PatientFolder], summary="List patient folders")
def list_patients(services: ServicesDep, principal: Reader,
                  patient_id: str | None = Query(None, description="exact Patient ID"),
                  issuer: str | None = Query(None, description="Issuer of Patient ID"),
                  conflicts: bool = Query(False, description="only folders with conflicts"),
                  limit: int = Query(100, ge=1, le=1000), offset: OffsetQuery = 0,
                  ) -> list[PatientFolder]:
    """Folders with studies the caller sees, their counts and whether demographics conflict."""
    visible = visible_studies(principal)
    n_studies = (select(func.count()).select_from(studies)
                 .where(studies.c.patient_pk == patients.c.pk, visible).scalar_subquery())
    n_conflicts = (select(func.count()).select_from(patient_conflicts)
                   .where(patient_conflicts.c.patient_pk == patients.c.pk).scalar_subquery())
    stmt = select(patients, n_studies.label("n_studies"), n_conflicts.label("n_conflicts")
                  ).where(patients.c.pk.in_(select(studies.c.patient_pk).where(visible)))
    if patient_id is not None:
        stmt = stmt.where(patients.c.patient_id == patient_id)
    if issuer is not None:
        stmt = stmt.where(patients.c.issuer == issuer)
    if conflicts:
        stmt = stmt.where(n_conflicts > 0)
    stmt = stmt.order_by(patients.c.pk).limit(limit).offset(offset)
    with services.engine.connect() as conn:
        rows = conn.execute(stmt).fetchall()
    return [
        PatientFolder(account_id=r.account_pk, patient_id=r.patient_id, issuer=r.issuer,
                      name=r.name, birth_date=r.birth_date, sex=r.sex, num_studies=r.n_studies,
                      has_conflicts=r.n_conflicts > 0)
        for r in rows
    ]


@router.get("/patients/{patient_id}", response_model=PatientFolder,
            summary="One patient's folder")
def patient_folder(patient_id: str, services: ServicesDep, principal: Reader,
                   issuer: str = Query("", description="Issuer of Patient ID"),
                   account_id: int | None = Query(None, ge=1, le=MAX_ID, description=(
                       "the account whose folder (default: your own, else the first "
                       "shared with you)")),
                   ) -> PatientFolder:
    """The folder's demographics, the studies the caller sees and their conflicts."""
    visible = visible_studies(principal)
    with services.engine.connect() as conn:
        stmt = select(patients).where(
            patients.c.patient_id == patient_id, patients.c.issuer == issuer,
            patients.c.pk.in_(select(studies.c.patient_pk).where(visible)))
        if account_id is not None:
            stmt = stmt.where(patients.c.account_pk == account_id)
        rows = conn.execute(stmt.order_by(patients.c.pk)).fetchall()
        own = [r for r in rows if r.account_pk == principal.account_pk]
        if not rows:
            raise NotFoundError(f"no patient folder for Patient ID {patient_id!r} "
                                f"with issuer {issuer!r}")
        row = (own or rows)[0]
        study_rows = conn.execute(select(studies).where(studies.c.patient_pk == row.pk, visible)
                                  .order_by(studies.c.study_date.desc())).fetchall()
        shown = [s.study_uid for s in study_rows]
        conflict_rows = conn.execute(
            select(patient_conflicts).where(patient_conflicts.c.patient_pk == row.pk,
                                            patient_conflicts.c.study_uid.in_(shown))
            .order_by(patient_conflicts.c.pk)).fetchall()
        files = conn.execute(MEDIA_LISTING.where(media.c.patient_pk == row.pk,
                                                 visible_media(principal))
                             .order_by(media.c.pk.desc())).fetchall()
    return PatientFolder(
        account_id=row.account_pk, patient_id=row.patient_id, issuer=row.issuer, name=row.name,
        birth_date=row.birth_date, sex=row.sex, num_studies=len(study_rows),
        has_conflicts=bool(conflict_rows),
        studies=[StudySummary(study_uid=s.study_uid, study_date=s.study_date,
                              description=s.description, accession=s.accession,
                              patient_name=s.patient_name, birth_date=s.birth_date, sex=s.sex,
                              num_series=s.num_series, num_instances=s.num_instances)
                 for s in study_rows],
        conflicts=[Conflict(study_uid=c.study_uid, attribute=c.attribute, expected=c.expected,
                            received=c.received) for c in conflict_rows],
        media=[media_item(f) for f in files],
    )
