"""The fixed vocabularies profiles are described with: sectors, countries, cities, languages, sizes."""

from __future__ import annotations

import enum
from typing import Literal


def _(label: str) -> str:
    """Marks an English name for the message catalog; pages show it translated (abb.web.i18n.taxonomy_label)."""
    return label


SECTORS: dict[str, str] = {
    "agri_food": _("agri-food processing"),
    "coffee_tea": _("coffee and tea"),
    "horticulture": _("horticulture and floriculture"),
    "textiles_apparel": _("textiles and apparel"),
    "leather_footwear": _("leather and footwear"),
    "machinery": _("industrial machinery"),
    "renewable_energy": _("renewable energy"),
    "construction": _("construction and building materials"),
    "healthcare": _("healthcare and pharmaceuticals"),
    "ict": _("ICT and software"),
    "logistics": _("logistics and transport"),
    "tourism": _("tourism and hospitality"),
    "water": _("water and sanitation"),
    "automotive": _("automotive and spare parts"),
    "furniture_design": _("furniture and design"),
    "education": _("education and training"),
}
SectorCode = Literal[
    "agri_food",
    "coffee_tea",
    "horticulture",
    "textiles_apparel",
    "leather_footwear",
    "machinery",
    "renewable_energy",
    "construction",
    "healthcare",
    "ict",
    "logistics",
    "tourism",
    "water",
    "automotive",
    "furniture_design",
    "education",
]

PARTNER_COUNTRIES: dict[str, str] = {"KE": _("Kenya"), "TZ": _("Tanzania"), "ET": _("Ethiopia")}
CountryCode = Literal["KE", "TZ", "ET"]

CITIES: dict[str, list[str]] = {
    "KE": ["Nairobi", "Mombasa", "Kisumu", "Nakuru", "Eldoret", "Thika"],
    "TZ": ["Dar es Salaam", "Arusha", "Dodoma", "Mwanza", "Zanzibar City", "Moshi"],
    "ET": ["Addis Ababa", "Dire Dawa", "Hawassa", "Bahir Dar", "Mekelle", "Adama"],
}
ITALIAN_CITIES = [
    "Milano",
    "Torino",
    "Bologna",
    "Verona",
    "Brescia",
    "Bergamo",
    "Padova",
    "Firenze",
    "Prato",
    "Napoli",
    "Bari",
    "Roma",
    "Ancona",
    "Treviso",
    "Vicenza",
    "Modena",
    "Parma",
    "Genova",
    "Catania",
]
TIME_ZONES: dict[str, str] = {
    "IT": "Europe/Rome",
    "KE": "Africa/Nairobi",
    "TZ": "Africa/Dar_es_Salaam",
    "ET": "Africa/Addis_Ababa",
}

LANGUAGES: dict[str, str] = {
    "it": _("Italian"),
    "en": _("English"),
    "fr": _("French"),
    "de": _("German"),
    "es": _("Spanish"),
    "sw": _("Swahili"),
    "am": _("Amharic"),
    "om": _("Oromo"),
    "ar": _("Arabic"),
    "zh": _("Chinese"),
}
LanguageCode = Literal["it", "en", "fr", "de", "es", "sw", "am", "om", "ar", "zh"]


class CompanySize(enum.StrEnum):
    MICRO = "micro"  # fewer than 10 people
    SMALL = "small"  # 10-49
    MEDIUM = "medium"  # 50-249


class ExportExperience(enum.StrEnum):
    NONE = "none"
    OCCASIONAL = "occasional"
    REGULAR = "regular"
