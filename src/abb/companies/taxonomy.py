"""The fixed vocabularies profiles are described with: sectors, countries, cities, languages, sizes."""

from __future__ import annotations

import enum
from typing import Literal

SECTORS: dict[str, str] = {
    "agri_food": "agri-food processing",
    "coffee_tea": "coffee and tea",
    "horticulture": "horticulture and floriculture",
    "textiles_apparel": "textiles and apparel",
    "leather_footwear": "leather and footwear",
    "machinery": "industrial machinery",
    "renewable_energy": "renewable energy",
    "construction": "construction and building materials",
    "healthcare": "healthcare and pharmaceuticals",
    "ict": "ICT and software",
    "logistics": "logistics and transport",
    "tourism": "tourism and hospitality",
    "water": "water and sanitation",
    "automotive": "automotive and spare parts",
    "furniture_design": "furniture and design",
    "education": "education and training",
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

PARTNER_COUNTRIES: dict[str, str] = {"KE": "Kenya", "TZ": "Tanzania", "ET": "Ethiopia"}
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
    "it": "Italian",
    "en": "English",
    "fr": "French",
    "de": "German",
    "es": "Spanish",
    "sw": "Swahili",
    "am": "Amharic",
    "om": "Oromo",
    "ar": "Arabic",
    "zh": "Chinese",
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
