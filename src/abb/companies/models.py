from __future__ import annotations

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from abb.companies.taxonomy import CompanySize, ExportExperience
from abb.core.database import Base, TimestampMixin, string_enum


class SmeProfile(TimestampMixin, Base):
    """An Italian SME looking for partners."""

    __tablename__ = "sme_profiles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    company_name: Mapped[str] = mapped_column(String(160), index=True)
    vat_number: Mapped[str] = mapped_column(String(13), unique=True)
    city: Mapped[str] = mapped_column(String(80))
    sectors: Mapped[list[str]] = mapped_column(JSON)
    products: Mapped[str] = mapped_column(Text)
    target_countries: Mapped[list[str]] = mapped_column(JSON)
    company_size: Mapped[CompanySize] = mapped_column(string_enum(CompanySize))
    languages: Mapped[list[str]] = mapped_column(JSON)
    export_experience: Mapped[ExportExperience] = mapped_column(string_enum(ExportExperience))
    website: Mapped[str | None] = mapped_column(String(255), nullable=True)


class PartnerProfile(TimestampMixin, Base):
    """A local partner (distributor, importer, service firm) in Kenya, Tanzania or Ethiopia."""

    __tablename__ = "partner_profiles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    organization_name: Mapped[str] = mapped_column(String(160), index=True)
    country: Mapped[str] = mapped_column(String(2), index=True)
    city: Mapped[str] = mapped_column(String(80))
    sectors: Mapped[list[str]] = mapped_column(JSON)
    services: Mapped[str] = mapped_column(Text)
    languages: Mapped[list[str]] = mapped_column(JSON)
    years_active: Mapped[int] = mapped_column(Integer)
    company_size: Mapped[CompanySize] = mapped_column(string_enum(CompanySize), default=CompanySize.SMALL)
    website: Mapped[str | None] = mapped_column(String(255), nullable=True)
