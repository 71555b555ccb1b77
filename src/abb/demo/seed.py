"""`abb seed-demo`: realistic synthetic profiles, bulk-inserted so that 100,000 rows take seconds."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from faker import Faker
from rich.progress import Progress
from sqlalchemy import func, insert, select

from abb.accounts.models import Role, User
from abb.companies.models import PartnerProfile, SmeProfile
from abb.companies.taxonomy import CITIES, ITALIAN_CITIES, SECTORS, CompanySize, ExportExperience
from abb.core.config import get_settings
from abb.core.database import Database, utcnow
from abb.core.security import hash_password
from abb.matching.service import recompute_all, suggest_pair
from abb.training.demo import add_demo_courses

DEMO_PASSWORD = "bridge-demo-2026"  # noqa: S105 - public demo login, refused in production
DEMO_SME = "sme@demo.africabusinessbridge.example"
DEMO_PARTNER = "partner@demo.africabusinessbridge.example"
DEMO_LOGINS = {
    DEMO_SME: Role.SME,
    DEMO_PARTNER: Role.PARTNER,
    "admin@demo.africabusinessbridge.example": Role.ADMIN,
}
CHUNK = 2000

SECTOR_PRODUCTS: dict[str, list[str]] = {
    "agri_food": [
        "pasta production lines",
        "olive oil",
        "tomato processing equipment",
        "cheese making equipment",
        "food packaging machines",
    ],
    "coffee_tea": ["espresso machines", "coffee roasting equipment", "tea blending lines", "coffee grinders"],
    "horticulture": [
        "greenhouse structures",
        "drip irrigation kits",
        "flower cold-chain packaging",
        "seed trays",
    ],
    "textiles_apparel": [
        "cotton fabrics",
        "knitting machines",
        "technical textiles",
        "garment finishing equipment",
    ],
    "leather_footwear": [
        "tanning chemicals",
        "shoe making machinery",
        "leather goods",
        "footwear components",
    ],
    "machinery": ["CNC machine tools", "hydraulic presses", "industrial pumps", "packaging machinery"],
    "renewable_energy": ["solar inverters", "mini-grid controllers", "solar water pumps", "biogas digesters"],
    "construction": ["ceramic tiles", "prefabricated buildings", "cement additives", "marble and stone"],
    "healthcare": ["diagnostic equipment", "hospital beds", "generic medicines", "dental equipment"],
    "ict": ["ERP software", "mobile payment integration", "cybersecurity services", "IoT sensors"],
    "logistics": ["cold-chain containers", "fleet tracking software", "warehouse racking", "forklifts"],
    "tourism": [
        "hotel furniture",
        "hospitality management software",
        "eco-lodge design",
        "kitchen equipment",
    ],
    "water": ["water purification plants", "borehole pumps", "wastewater treatment", "water meters"],
    "automotive": ["spare parts for trucks", "motorcycle components", "tyres", "diagnostic tools"],
    "furniture_design": ["office furniture", "design lighting", "kitchen cabinets", "upholstered sofas"],
    "education": [
        "vocational training programmes",
        "e-learning platforms",
        "laboratory kits",
        "language courses",
    ],
}
SECTOR_SERVICES: dict[str, list[str]] = {
    "agri_food": [
        "food processing and distribution",
        "import of food processing equipment",
        "supermarket supply",
    ],
    "coffee_tea": ["coffee export and roasting", "café chain supply", "tea estate management"],
    "horticulture": ["flower farm operations", "greenhouse installation", "fresh produce export"],
    "textiles_apparel": ["garment manufacturing in export zones", "fabric import and distribution"],
    "leather_footwear": ["tannery operations", "shoe assembly and retail", "leather export"],
    "machinery": ["machinery import and after-sales service", "industrial maintenance", "equipment leasing"],
    "renewable_energy": [
        "solar installation and maintenance",
        "mini-grid development",
        "off-grid energy distribution",
    ],
    "construction": ["building contracting", "distribution of building materials", "real estate development"],
    "healthcare": ["hospital supply", "pharmaceutical distribution", "clinic operations"],
    "ict": ["software integration", "mobile money services", "IT consulting and support"],
    "logistics": ["freight forwarding and customs clearance", "cold-chain transport", "warehousing"],
    "tourism": ["safari lodges and hotels", "tour operations", "hospitality procurement"],
    "water": ["borehole drilling", "water utility services", "irrigation contracting"],
    "automotive": ["vehicle spare parts distribution", "motorcycle assembly", "garage networks"],
    "furniture_design": ["furniture retail and interior fit-out", "hotel fit-out projects"],
    "education": ["vocational training centres", "university partnerships", "corporate training"],
}
PARTNER_SUFFIXES = {
    "KE": ["Ltd", "Kenya Ltd", "Group"],
    "TZ": ["Ltd", "Tanzania Ltd", "Co."],
    "ET": ["PLC", "Trading PLC", "Share Co."],
}
PARTNER_LANGUAGES = {"KE": ["en", "sw"], "TZ": ["sw", "en"], "ET": ["am", "en", "om"]}


def _sme_row(fake: Faker, rng: random.Random, owner_id: int, now: Any) -> dict[str, Any]:
    sectors = rng.sample(list(SECTORS), k=rng.choice([1, 1, 2, 2, 3]))
    products = [p for s in sectors for p in rng.sample(SECTOR_PRODUCTS[s], k=2)]
    languages = ["it", *rng.sample(["en", "fr", "de", "es"], k=rng.choice([1, 1, 2]))]
    return {
        "owner_id": owner_id,
        "company_name": fake.company(),
        "vat_number": "IT" + f"{owner_id:011d}",
        "city": rng.choice(ITALIAN_CITIES),
        "sectors": sectors,
        "products": "We make " + ", ".join(products) + ".",
        "target_countries": rng.sample(["KE", "TZ", "ET"], k=rng.choice([1, 1, 2, 3])),
        "company_size": rng.choice(list(CompanySize)).value,
        "languages": languages,
        "export_experience": rng.choice(list(ExportExperience)).value,
        "website": f"https://www.{fake.domain_word()}.it",
        "created_at": now,
        "updated_at": now,
    }


def _partner_row(rng: random.Random, owner_id: int, now: Any) -> dict[str, Any]:
    country = rng.choice(["KE", "TZ", "ET"])
    city = rng.choice(CITIES[country])
    sectors = rng.sample(list(SECTORS), k=rng.choice([1, 2, 2, 3]))
    services = [s2 for s in sectors for s2 in rng.sample(SECTOR_SERVICES[s], k=1)]
    word = rng.choice(
        [
            "Savanna",
            "Rift",
            "Kilimanjaro",
            "Abay",
            "Serengeti",
            "Tana",
            "Simba",
            "Baobab",
            "Highland",
            "Lakeside",
        ]
    )
    trade = SECTORS[sectors[0]].split(" ")[0].capitalize()
    languages = list(PARTNER_LANGUAGES[country][: rng.choice([1, 2])])
    if rng.random() < 0.15:
        languages.append("it")
    if "en" not in languages and rng.random() < 0.7:
        languages.append("en")
    return {
        "owner_id": owner_id,
        "organization_name": f"{word} {trade} {rng.choice(PARTNER_SUFFIXES[country])}",
        "country": country,
        "city": city,
        "sectors": sectors,
        "services": "We offer " + ", ".join(services) + f" from {city}.",
        "languages": languages,
        "years_active": rng.randint(1, 40),
        "company_size": rng.choice(list(CompanySize)).value,
        "website": None,
        "created_at": now,
        "updated_at": now,
    }


def _chunks(total: int) -> Iterator[int]:
    while total > 0:
        yield min(CHUNK, total)
        total -= CHUNK


def seed_database(*, smes: int, partners: int, seed: int = 2026, if_empty: bool = False) -> str:
    settings = get_settings()
    if settings.env == "production":
        raise SystemExit("seed-demo refuses to run in production")
    rng = random.Random(seed)
    fake = Faker("it_IT")
    fake.seed_instance(seed)
    db = Database(settings)
    try:
        with db.session_factory() as session:
            if if_empty and session.scalar(select(func.count(User.id))):
                return "database already has users: demo data not added"
            password_hash = hash_password(
                DEMO_PASSWORD, settings=settings
            )  # one hash for every demo account keeps seeding fast
            now = utcnow()
            logins = [e for e in DEMO_LOGINS if session.scalar(select(User.id).where(User.email == e)) is None]
            serial = session.scalar(select(func.count(User.id))) or 0
            demo_sme_row: dict[str, Any] | None = None
            with Progress(disable=smes + partners < 5000) as progress:
                task = progress.add_task("seeding", total=smes + partners)
                for role, count in ((Role.SME, smes), (Role.PARTNER, partners)):
                    for size in _chunks(count):
                        users = []
                        for _ in range(size):
                            serial += 1
                            demo_email = next((e for e in logins if DEMO_LOGINS[e] == role), None)
                            if demo_email:
                                logins.remove(demo_email)
                            email = demo_email or f"{role.value}{serial}@demo.africabusinessbridge.example"
                            users.append(_user_row(email, role, password_hash, now, fake))
                        ids = session.scalars(
                            insert(User).returning(User.id, sort_by_parameter_order=True), users
                        ).all()
                        if role == Role.SME:
                            rows = [_sme_row(fake, rng, i, now) for i in ids]
                            demo_sme_row = demo_sme_row or (rows[0] if users[0]["email"] == DEMO_SME else None)
                            session.execute(insert(SmeProfile), rows)
                        else:
                            rows = [_partner_row(rng, i, now) for i in ids]
                            if users[0]["email"] == DEMO_PARTNER and demo_sme_row:
                                _fit_demo_partner(rows[0], demo_sme_row)
                            session.execute(insert(PartnerProfile), rows)
                        progress.advance(task, size)
                for email in logins:  # the admin, and any demo login not created above
                    session.execute(insert(User), [_user_row(email, DEMO_LOGINS[email], password_hash, now, fake)])
            add_demo_courses(session, now)
            session.commit()
            # Matching: rank partners for every SME, and introduce the demo SME and demo partner to each other
            # so that both demo logins can walk through accept -> connected.
            matches = recompute_all(session, settings=settings)
            demo_sme, demo_partner = (
                session.scalar(select(model.id).join(User, User.id == model.owner_id).where(User.email == email))
                for model, email in ((SmeProfile, DEMO_SME), (PartnerProfile, DEMO_PARTNER))
            )
            if demo_sme and demo_partner:
                suggest_pair(session, sme_id=demo_sme, partner_id=demo_partner, settings=settings)
    finally:
        db.dispose()
    return (
        f"seeded {smes} SMEs and {partners} partners ({matches} match suggestions); demo logins "
        + ", ".join(DEMO_LOGINS)
        + f" (password: {DEMO_PASSWORD})"
    )


def _fit_demo_partner(partner: dict[str, Any], sme: dict[str, Any]) -> None:
    """Make the demo partner a plausible fit for the demo SME, so both demo logins meet near the top."""
    country = sme["target_countries"][0]
    sector = sme["sectors"][0]
    city = CITIES[country][0]
    partner.update(
        country=country,
        city=city,
        sectors=[sector],
        languages=sorted({"en", *PARTNER_LANGUAGES[country][:1]}),
        services=f"We offer {SECTOR_SERVICES[sector][0]} from {city}.",
    )


def _user_row(email: str, role: Role, password_hash: str, now: Any, fake: Faker) -> dict[str, Any]:
    return {
        "email": email,
        "password_hash": password_hash,
        "full_name": fake.name(),
        "role": role,
        "is_active": True,
        "token_version": 0,
        "created_at": now,
        "updated_at": now,
        "last_seen_at": None,
    }
