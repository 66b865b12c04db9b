"""The set of templates a site offers, and which one a new report starts from.

:meth:`TemplateRegistry.choose` decides by the physician's preference first (per
modality, or ``"*"`` for any), then by the template whose modalities include one of the
study's and whose keywords appear in its description or body part (most keywords
wins), then by modality alone, and finally the free-text template.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from workbench.errors import NotFoundError
from workbench.reports.templates import Template, builtin_template_files, load_template

__all__ = ["FREE_TEXT", "TemplateRegistry", "builtin_templates"]

FREE_TEXT = "free-text"
ADDENDUM = "addendum"


class TemplateRegistry:
    """Templates by id; new reports use the newest version, old ones keep theirs.

    Parameters
    ----------
    templates
        Validated templates; must include ``free-text`` and ``addendum``.
    """

    def __init__(self, templates: Iterable[Template]) -> None:
        self._by_id: dict[str, Template] = {}
        self._all: dict[tuple[str, int], Template] = {}
        for template in templates:
            self._all[(template.id, template.version)] = template
            held = self._by_id.get(template.id)
            if held is None or template.version > held.version:
                self._by_id[template.id] = template
        for needed in (FREE_TEXT, ADDENDUM):
            if needed not in self._by_id:
                raise ValueError(f"a template registry needs the {needed!r} template")

    @classmethod
    def from_files(cls, paths: Iterable[Path]) -> TemplateRegistry:
        """Load every template file; a bad file raises ``ValueError`` naming it."""
        loaded = []
        for path in paths:
            try:
                loaded.append(load_template(path))
            except ValueError as exc:
                raise ValueError(f"template file {path.name}: {exc}") from exc
        return cls(loaded)

    def __contains__(self, template_id: object) -> bool:
        return template_id in self._by_id

    def get(self, template_id: str, version: int | None = None) -> Template:
        """The template `template_id` (its newest version unless `version` is given).

        Raises
        ------
        NotFoundError
            No such template (or version).
        """
        found = (self._by_id.get(template_id) if version is None
                 else self._all.get((template_id, version)))
        if found is None:
            which = template_id if version is None else f"{template_id} version {version}"
            raise NotFoundError(f"no report template {which!r}")
        return found

    def selectable(self) -> list[Template]:
        """Templates a physician may pick, by title."""
        return sorted((t for t in self._by_id.values() if t.selectable), key=lambda t: t.title)

    def choose(self, modalities: Sequence[str], description: str = "",
               preference: Mapping[str, str] | None = None) -> Template:
        """The template a new report of a study starts from.

        Parameters
        ----------
        modalities
            The study's modalities (e.g. ``["NM", "CT"]``).
        description
            Study description and body part, matched against template keywords.
        preference
            The physician's choice per modality (``{"US": "free-text"}``), ``"*"`` for
            any; ids no longer offered are ignored.

        Examples
        --------
        >>> registry = builtin_templates()
        >>> registry.choose(["NM"], "Myocardial perfusion stress/rest").id
        'nuclear-cardiology-mpi'
        >>> registry.choose(["NM"], "MPI", {"NM": "free-text"}).id
        'free-text'
        """
        wanted = [m.upper() for m in modalities]
        for key in [*wanted, "*"]:
            chosen = (preference or {}).get(key)
            if chosen in self._by_id and self._by_id[chosen].selectable:
                return self._by_id[chosen]
        text = description.lower()
        best: tuple[int, str] | None = None
        fallback: Template | None = None
        for template in self.selectable():
            if not set(wanted) & set(template.modalities):
                continue
            hits = sum(1 for k in template.keywords if k.lower() in text)
            if template.keywords and hits and (best is None or hits > best[0]):
                best = (hits, template.id)
            if not template.keywords and fallback is None:
                fallback = template
        if best is not None:
            return self._by_id[best[1]]
        return fallback or self._by_id[FREE_TEXT]


def builtin_templates() -> TemplateRegistry:
    """The templates shipped with workbench: free text, general CT/MR/X-ray,
    echocardiography, nuclear cardiology MPI (ASNC elements), and the addendum."""
    return TemplateRegistry.from_files(builtin_template_files())
