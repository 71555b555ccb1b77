from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    StringConstraints,
    TypeAdapter,
    ValidationInfo,
    field_validator,
)

from abb.companies.taxonomy import (
    CompanySize,
    CountryCode,
    ExportExperience,
    LanguageCode,
    SectorCode,
)


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


_URL = TypeAdapter(HttpUrl)


def _website(value: str | None) -> str | None:
    # Validated as an http(s) URL, stored as the normalized string.
    return str(_URL.validate_python(value)) if value is not None else None


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=160)]
City = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=80)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=4000)]
Sectors = Annotated[list[SectorCode], Field(min_length=1, max_length=6), AfterValidator(_unique)]
Languages = Annotated[list[LanguageCode], Field(min_length=1, max_length=8), AfterValidator(_unique)]
Countries = Annotated[list[CountryCode], Field(min_length=1, max_length=3), AfterValidator(_unique)]
Website = Annotated[str | None, Field(default=None, max_length=255), AfterValidator(_website)]
# Italian VAT number (partita IVA): 11 digits, optionally prefixed with IT.
VatNumber = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^(IT)?\d{11}$")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SmeProfileIn(_In):
    company_name: Name
    vat_number: VatNumber
    city: City
    sectors: Sectors
    products: LongText
    target_countries: Countries
    company_size: CompanySize
    languages: Languages
    export_experience: ExportExperience
    website: Website = None

    @field_validator("vat_number")
    @classmethod
    def _canonical_vat(cls, value: str) -> str:
        return value if value.startswith("IT") else "IT" + value


class _Update(_In):
    """Partial update: only the fields sent change; null only clears the website."""

    @field_validator("*")
    @classmethod
    def _no_null(cls, value: object, info: ValidationInfo) -> object:
        if value is None and info.field_name != "website":
            raise ValueError("may not be null")
        return value


class SmeProfileUpdate(_Update):
    company_name: Name | None = None
    city: City | None = None
    sectors: Sectors | None = None
    products: LongText | None = None
    target_countries: Countries | None = None
    company_size: CompanySize | None = None
    languages: Languages | None = None
    export_experience: ExportExperience | None = None
    website: Website = None


class PartnerProfileIn(_In):
    organization_name: Name
    country: CountryCode
    city: City
    sectors: Sectors
    services: LongText
    languages: Languages
    years_active: Annotated[int, Field(ge=0, le=150)]
    company_size: CompanySize = CompanySize.SMALL
    website: Website = None


class PartnerProfileUpdate(_Update):
    organization_name: Name | None = None
    country: CountryCode | None = None
    city: City | None = None
    sectors: Sectors | None = None
    services: LongText | None = None
    languages: Languages | None = None
    years_active: Annotated[int, Field(ge=0, le=150)] | None = None
    company_size: CompanySize | None = None
    website: Website = None


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    owner_id: int
    city: str
    sectors: list[str]
    languages: list[str]
    company_size: CompanySize
    website: str | None
    created_at: datetime
    updated_at: datetime


class SmeProfileOut(_Out):
    company_name: str
    vat_number: str
    products: str
    target_countries: list[str]
    export_experience: ExportExperience


class PartnerProfileOut(_Out):
    organization_name: str
    country: str
    services: str
    years_active: int
