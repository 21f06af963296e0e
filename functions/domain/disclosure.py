"""The AI-disclosure notice: a versioned catalogue per jurisdiction and language.

The catalogue (`functions/notices/catalogue.json`) holds one entry per jurisdiction,
language and version. Texts are `string.Template`s over a fixed set of placeholders
filled from the operator's `OperatorProfile`. A bad catalogue fails at load time with
every problem listed, never on the hundredth request.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path
from string import Template
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from functions.schemas.api import Notice

FALLBACK_LANGUAGE = "en"
DEFAULT_JURISDICTION = "default"
PLACEHOLDERS = frozenset(
    {"operator", "ai_system", "human_contact", "privacy_contact", "policy_url", "retention", "retention_consequential"}
)

Kind = Literal["routing", "decision"]

# A jurisdiction given as an EU member state's ISO 3166 code gets the EU rule set.
_EU_MEMBER_STATES = frozenset(
    {"AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "IE", "IT"}
    | {"LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE"}
)
_LOCALE_TAG = re.compile(r"^([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]{1,8})*$")
_MAX_ECHOED_LOCALE = 64


class CatalogueError(ValueError):
    """The notice catalogue is malformed; raised at load time."""


class OperatorTexts(BaseModel):
    """What the operator says differently in one language; unset fields keep the profile's own."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(min_length=1)] | None = None
    ai_system_name: Annotated[str, Field(min_length=1)] | None = None
    human_contact: Annotated[str, Field(min_length=1)] | None = None
    policy_url: Annotated[str, Field(pattern=r"^https?://\S+$")] | None = None
    privacy_contact: Annotated[str, Field(min_length=1)] | None = None


class OperatorProfile(BaseModel):
    """Facts about the operator that are substituted into every notice.

    The fields are the English (fallback) texts; `languages` holds what differs in other
    languages, so a Spanish notice never carries an English contact line.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(min_length=1, description="Who runs the service, e.g. 'Acme Retail S.L.'.")]
    ai_system_name: Annotated[str, Field(min_length=1, description="What the customer sees the AI called.")]
    human_contact: Annotated[
        str, Field(min_length=1, description="How to reach a person: phone, address, or 'type agent'.")
    ]
    policy_url: Annotated[str, Field(pattern=r"^https?://\S+$", description="The privacy policy.")]
    # Defaults match the record store's retention classes (183 days / 3 years); keep them in step.
    retention_months: Annotated[
        int, Field(ge=1, le=1200, description="How long records of the 'standard' retention class are kept.")
    ] = 6
    retention_months_consequential: Annotated[
        int, Field(ge=1, le=1200, description="How long records of consequential automated decisions are kept.")
    ] = 36
    privacy_contact: Annotated[
        str | None, Field(min_length=1, description="Where to exercise data rights; defaults to human_contact.")
    ] = None
    languages: dict[str, OperatorTexts] = Field(
        default_factory=dict, description="Per language code (es), the texts that differ from the fields above."
    )

    def in_language(self, language: str) -> OperatorProfile:
        """The profile as shown to a reader of `language`."""
        texts = self.languages.get(language)
        if texts is None:
            return self
        return self.model_copy(update=texts.model_dump(exclude_none=True))


@dataclass(frozen=True)
class ResolvedLocale:
    """The language actually used for a requested BCP 47 tag."""

    language: str
    fallback: bool
    requested: str


def resolve_language(locale: str | None, supported: Collection[str]) -> ResolvedLocale:
    """Map a BCP 47-ish tag (`es-ES`, `es_MX`, `ES`) to a supported language.

    Never raises: an unsupported or malformed tag resolves to English with
    `fallback=True`. `requested` echoes the tag (capped in length).
    """
    requested = (locale or "")[:_MAX_ECHOED_LOCALE]
    match = _LOCALE_TAG.match(requested.strip())
    language = match.group(1).lower() if match else ""
    if language in supported:
        return ResolvedLocale(language=language, fallback=False, requested=requested)
    return ResolvedLocale(language=FALLBACK_LANGUAGE, fallback=True, requested=requested)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


NonEmpty = Annotated[str, Field(min_length=1)]


class _DecisionKinds(_Strict):
    routing: NonEmpty
    decision: NonEmpty
    referred: NonEmpty  # a decision the model's review policy sends to a person: the AI has not decided


class _Texts(_Strict):
    notice: NonEmpty
    short_notice: NonEmpty
    purpose: NonEmpty
    decision_kind: _DecisionKinds
    human_contact: NonEmpty
    data_use: NonEmpty
    retention: NonEmpty
    rights: NonEmpty
    caveat: NonEmpty

    def templates(self) -> dict[str, str]:
        """Every template by a dotted field name, for validation."""
        flat = {name: value for name, value in self.model_dump().items() if isinstance(value, str)}
        flat.update({f"decision_kind.{k}": v for k, v in self.decision_kind.model_dump().items()})
        return flat


class NoticeEntry(_Strict):
    """One version of the notice for one jurisdiction and language."""

    notice_id: Annotated[str, Field(pattern=r"^[a-z0-9-]+-[a-z]{2,3}-\d{4}-\d{2}$")]
    jurisdiction: Annotated[str, Field(pattern=r"^(default|[A-Z]{2}(-[A-Z]{2})?)$")]
    language: Annotated[str, Field(pattern=r"^[a-z]{2,3}$")]
    effective_from: date
    basis: list[str] = Field(default_factory=list, description="Rules this text is written to meet.")
    texts: _Texts


class _CatalogueFile(_Strict):
    schema_version: Literal[1]
    entries: Annotated[list[NoticeEntry], Field(min_length=1)]


def _problems(entries: list[NoticeEntry]) -> list[str]:
    problems: list[str] = []
    seen: set[str] = set()
    for entry in entries:
        expected = f"{entry.jurisdiction.lower()}-{entry.language}-{entry.effective_from:%Y-%m}"
        if entry.notice_id != expected:
            problems.append(f"{entry.notice_id}: notice_id should be {expected!r} (jurisdiction-language-yyyy-mm)")
        if entry.notice_id in seen:
            problems.append(f"{entry.notice_id}: duplicate notice_id")
        seen.add(entry.notice_id)
        for field, text in entry.texts.templates().items():
            template = Template(text)
            if not template.is_valid():
                problems.append(f"{entry.notice_id}.{field}: malformed placeholder (a lone '$'? write '$$')")
                continue
            unknown = set(template.get_identifiers()) - PLACEHOLDERS
            if unknown:
                allowed = ", ".join(sorted(PLACEHOLDERS))
                problems.append(
                    f"{entry.notice_id}.{field}: unknown placeholder(s) {sorted(unknown)}; allowed: {allowed}"
                )
    jurisdictions = {e.jurisdiction for e in entries}
    languages = {e.language for e in entries}
    if DEFAULT_JURISDICTION not in jurisdictions:
        problems.append(f"no entry for the {DEFAULT_JURISDICTION!r} jurisdiction")
    if FALLBACK_LANGUAGE not in languages:
        problems.append(f"no entry in the fallback language {FALLBACK_LANGUAGE!r}")
    covered = {(e.jurisdiction, e.language) for e in entries}
    for jurisdiction in sorted(jurisdictions):
        for language in sorted(languages):
            if (jurisdiction, language) not in covered:
                problems.append(f"no {language!r} notice for jurisdiction {jurisdiction!r}")
    return problems


def _format_period(months: int, language: str) -> str:
    years, rest = divmod(months, 12)
    if language == "es":
        if rest == 0:
            return "1 año" if years == 1 else f"{years} años"
        return "1 mes" if months == 1 else f"{months} meses"
    if rest == 0:
        return "1 year" if years == 1 else f"{years} years"
    return "1 month" if months == 1 else f"{months} months"


class NoticeCatalogue:
    """The validated notice catalogue. Build it with `NoticeCatalogue.load()`."""

    def __init__(self, entries: list[NoticeEntry]) -> None:
        problems = _problems(entries)
        if problems:
            raise CatalogueError("invalid notice catalogue:\n  - " + "\n  - ".join(problems))
        self._entries = sorted(entries, key=lambda e: (e.jurisdiction, e.language, e.effective_from))
        self._jurisdictions = {e.jurisdiction.upper(): e.jurisdiction for e in entries}
        self.languages = frozenset(e.language for e in entries)

    @classmethod
    def load(cls, path: str | Path | None = None) -> NoticeCatalogue:
        """Load and validate a catalogue; without `path`, the bundled one (read once per process)."""
        if path is None:
            return _bundled()
        return cls.from_json(Path(path).read_text(encoding="utf-8"), source=str(path))

    @classmethod
    def from_json(cls, text: str, *, source: str = "<string>") -> NoticeCatalogue:
        """Parse and validate catalogue JSON; raises `CatalogueError` naming every problem."""
        try:
            parsed = _CatalogueFile.model_validate_json(text)
        except ValidationError as exc:
            raise CatalogueError(f"invalid notice catalogue {source}:\n{exc}") from exc
        return cls(parsed.entries)

    def versions(self) -> list[str]:
        """Every notice id in the catalogue, sorted."""
        return sorted(e.notice_id for e in self._entries)

    def jurisdiction_for(self, requested: str | None) -> str:
        """The rule set applied for a requested jurisdiction (case-insensitive; unknown -> default)."""
        key = (requested or "").strip().upper().replace("_", "-")
        if key in self._jurisdictions:
            return self._jurisdictions[key]
        if key in _EU_MEMBER_STATES and "EU" in self._jurisdictions:
            return "EU"
        return DEFAULT_JURISDICTION

    def entry(self, *, jurisdiction: str, language: str, at: date | None = None) -> NoticeEntry:
        """The version in force at `at` (default: today, UTC) for an exact jurisdiction and language."""
        day = at or datetime.now(UTC).date()
        versions = [e for e in self._entries if e.jurisdiction == jurisdiction and e.language == language]
        in_force = [e for e in versions if e.effective_from <= day]
        # Before the first version's date we still show the earliest one: a notice must always be shown.
        return in_force[-1] if in_force else versions[0]

    def notice(
        self,
        *,
        locale: str,
        jurisdiction: str,
        operator: OperatorProfile,
        model: dict[str, str] | None = None,
        kind: Kind | None = None,
        at: date | None = None,
        referred: bool = False,
    ) -> Notice:
        """Build the notice for a locale and jurisdiction, filled with the operator's facts.

        Never raises for a locale or jurisdiction: unsupported languages fall back to
        English (`fallback=True`), unknown jurisdictions to `default`; the returned
        `jurisdiction` names the rule set actually applied. `referred`: a person decides, and
        `decision_kind` says so instead of describing an automated decision.
        """
        resolved = resolve_language(locale, self.languages)
        operator = operator.in_language(resolved.language)
        applied = self.jurisdiction_for(jurisdiction)
        entry = self.entry(jurisdiction=applied, language=resolved.language, at=at)
        values = {
            "operator": operator.name,
            "ai_system": operator.ai_system_name,
            # Templates end their own sentences, so a contact's trailing full stop would double it.
            "human_contact": operator.human_contact.rstrip(". "),
            "privacy_contact": (operator.privacy_contact or operator.human_contact).rstrip(". "),
            "policy_url": operator.policy_url,
            "retention": _format_period(operator.retention_months, resolved.language),
            "retention_consequential": _format_period(operator.retention_months_consequential, resolved.language),
        }
        texts = entry.texts

        def fill(text: str) -> str:
            return Template(text).substitute(values)

        return Notice(
            notice=fill(texts.notice),
            short_notice=fill(texts.short_notice),
            notice_id=entry.notice_id,
            effective_from=entry.effective_from.isoformat(),
            locale=resolved.language,
            requested_locale=resolved.requested,
            fallback=resolved.fallback,
            jurisdiction=applied,
            operator=operator.name,
            ai_system_name=operator.ai_system_name,
            model=dict(model) if model is not None else None,
            purpose=fill(texts.purpose),
            decision_kind=fill(getattr(texts.decision_kind, "referred" if referred else kind))
            if kind is not None
            else None,
            human_contact=fill(texts.human_contact),
            data_use=fill(texts.data_use),
            retention=fill(texts.retention),
            policy_url=operator.policy_url,
            rights=fill(texts.rights),
            caveat=fill(texts.caveat),
        )


@lru_cache(maxsize=1)
def _bundled() -> NoticeCatalogue:
    text = resources.files("functions").joinpath("notices", "catalogue.json").read_text(encoding="utf-8")
    return NoticeCatalogue.from_json(text, source="functions/notices/catalogue.json")
