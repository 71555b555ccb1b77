"""The matching engine on its own: vectorized scores agree with the factor-by-factor path, ranking, wording."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from abb.companies.taxonomy import LANGUAGES, PARTNER_COUNTRIES, SECTORS
from abb.demo.seed import SECTOR_PRODUCTS, SECTOR_SERVICES
from abb.matching.engine import FACTORS, MatchIndex, Profile, Weights, profile_from_partner, profile_from_sme
from tests.conftest import make_settings

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
WEIGHTS = Weights.from_settings(make_settings())
FEW_POINTS = "Few points in common so far; complete your profile for better suggestions."


def profile(id: int = 1, **fields) -> Profile:
    values = {
        "id": id,
        "sectors": frozenset({"agri_food"}),
        "countries": frozenset({"KE"}),
        "languages": frozenset({"it", "en"}),
        "size": "small",
        "text": "pasta production lines and food packaging machines",
        "city": "Nairobi",
        "completeness": 1.0,
        "days_since_seen": 0.0,
    }
    values.update(fields)
    return Profile(**values)


def random_profiles(rng: random.Random, count: int, *, smes: bool) -> list[Profile]:
    phrases = SECTOR_PRODUCTS if smes else SECTOR_SERVICES
    result = []
    for i in range(count):
        sectors = rng.sample(list(SECTORS), k=rng.randint(1, 3))
        countries = rng.sample(list(PARTNER_COUNTRIES), k=rng.randint(1, 3) if smes else 1)
        result.append(
            profile(
                i + 1,
                sectors=frozenset(sectors),
                countries=frozenset(countries),
                languages=frozenset(rng.sample(list(LANGUAGES), k=rng.randint(1, 3))),
                size=rng.choice(["micro", "small", "medium"]),
                text=" ".join(rng.choice(phrases[s]) for s in sectors),
                completeness=rng.choice([0.25, 0.5, 0.75, 1.0]),
                days_since_seen=rng.choice([None, 0.5, 3.0, 40.0]),
            )
        )
    return result


@pytest.mark.parametrize("queries_are_smes", [True, False])
def test_vectorized_scores_equal_the_factor_by_factor_sum(queries_are_smes):
    rng = random.Random(7)
    smes, partners = random_profiles(rng, 30, smes=True), random_profiles(rng, 50, smes=False)
    queries, candidates = (smes, partners) if queries_are_smes else (partners, smes)
    index = MatchIndex(queries, candidates, queries_are_smes=queries_are_smes)
    scores = index.scores(np.arange(len(queries)), WEIGHTS)
    assert scores.shape == (len(queries), len(candidates))
    expected = np.array(
        [[sum(index.breakdown(q, c, WEIGHTS).values()) for c in range(len(candidates))] for q in range(len(queries))]
    )
    np.testing.assert_allclose(scores, expected, atol=1e-3)
    assert scores.min() >= 0 and scores.max() <= 100
    assert len(np.unique(scores.round(2))) > 50  # the data really spreads the scores


def test_a_pair_scores_the_same_from_either_side():
    rng = random.Random(11)
    smes, partners = random_profiles(rng, 10, smes=True), random_profiles(rng, 12, smes=False)
    for_smes = MatchIndex(smes, partners, queries_are_smes=True).scores(np.arange(10), WEIGHTS)
    for_partners = MatchIndex(partners, smes, queries_are_smes=False).scores(np.arange(12), WEIGHTS)
    np.testing.assert_allclose(for_smes, for_partners.T, atol=1e-4)


def test_rank_returns_the_best_first_and_respects_min_score():
    rng = random.Random(3)
    smes, partners = random_profiles(rng, 5, smes=True), random_profiles(rng, 200, smes=False)
    index = MatchIndex(smes, partners, queries_are_smes=True)
    full = index.scores(np.arange(5), WEIGHTS)
    ranked = list(index.rank(range(5), WEIGHTS, top_n=10))
    assert [r.query for r in ranked] == [0, 1, 2, 3, 4]
    for result in ranked:
        assert len(result.candidates) == 10
        assert list(result.scores) == sorted(result.scores, reverse=True)
        np.testing.assert_allclose(result.scores, np.sort(full[result.query])[::-1][:10], atol=1e-5)
    threshold = float(np.median(full[0]))
    kept = next(index.rank([0], WEIGHTS, top_n=200, min_score=threshold))
    assert len(kept.candidates) == int((full[0] >= threshold).sum())
    assert len(next(index.rank([0], WEIGHTS, top_n=500)).candidates) == 200  # never more than there are


def test_factors_in_isolation():
    sme = profile(sectors=frozenset({"agri_food", "logistics"}), countries=frozenset({"KE", "TZ"}), size="micro")
    perfect = profile(2, sectors=frozenset({"agri_food"}), countries=frozenset({"KE"}), size="micro")
    other = profile(
        3,
        sectors=frozenset({"ict"}),
        countries=frozenset({"ET"}),
        languages=frozenset({"am"}),
        size="medium",
        text="software consulting",
        completeness=0.0,
        days_since_seen=None,
    )
    index = MatchIndex([sme], [perfect, other], queries_are_smes=True)
    best, worst = (index.breakdown(0, c, Weights(tuple(1.0 for _ in FACTORS))) for c in (0, 1))
    per_factor = 100 / len(FACTORS)
    for name in ("sector", "country", "language", "size", "completeness", "activity"):
        assert best[name] == pytest.approx(per_factor), name
    assert best["text"] == pytest.approx(per_factor, rel=1e-5)  # identical texts
    assert worst["sector"] == worst["country"] == worst["language"] == worst["size"] == worst["text"] == 0
    # completeness and activity are means of both sides: the SME's own half remains
    assert worst["completeness"] == pytest.approx(per_factor / 2)
    assert worst["activity"] == pytest.approx(per_factor / 2)


def test_activity_halves_every_two_weeks_and_never_seen_is_zero():
    assert profile(days_since_seen=0.0).activity == 1.0
    assert profile(days_since_seen=14.0).activity == pytest.approx(0.5)
    assert profile(days_since_seen=28.0).activity == pytest.approx(0.25)
    assert profile(days_since_seen=None).activity == 0.0


def test_weights_come_from_settings_and_all_zero_is_refused():
    settings = make_settings(matching_weight_country=60, matching_weight_sector=0)
    points = Weights.from_settings(settings).points()
    assert points["sector"] == 0 and points["country"] == pytest.approx(100 * 60 / 110)  # 25 + 60 + 10 + 5 + 5 + 5
    with pytest.raises(ValueError, match="positive"):
        Weights(tuple(0.0 for _ in FACTORS)).points()
    with pytest.raises(ValueError):
        make_settings(matching_weight_text=-1)


def test_explanations_name_the_strongest_reasons_for_each_reader():
    sme = profile(text="pasta production lines and food packaging machines", languages=frozenset({"it", "en"}))
    partner = profile(2, text="food processing and distribution, packaging", languages=frozenset({"en", "sw"}))
    index = MatchIndex([sme], [partner], queries_are_smes=True)
    contributions = index.breakdown(0, 0, WEIGHTS)
    reasons, for_sme, for_partner = index.explain(0, 0, contributions)
    assert reasons == [
        {"factor": "sector", "sectors": ["agri_food"]},
        {"factor": "country", "country": "KE", "city": "Nairobi"},
        {"factor": "language", "languages": ["en"]},
    ]
    assert for_sme == "Both work in agri-food processing; you target Kenya, they are in Nairobi; both speak English."
    assert (
        for_partner == "Both work in agri-food processing; they target Kenya, you are in Nairobi; both speak English."
    )
    # With the text weighted most, the shared words come first.
    text_first = Weights(tuple(90.0 if name == "text" else 1.0 for name in FACTORS))
    wording = index.explain(0, 0, index.breakdown(0, 0, text_first))[1]
    first_reason = wording.split(";")[0]
    assert first_reason.startswith("Your products and their services both mention ")
    assert {"food", "packaging"} <= set(first_reason.replace(",", " ").split())


def test_profiles_from_rows_measure_completeness_and_activity():
    sme_row = {
        "id": 4,
        "sectors": ["agri_food"],
        "target_countries": ["KE", "ET"],
        "languages": ["it"],
        "company_size": "small",
        "products": "Olive oil",
        "city": "Bari",
        "website": None,
        "export_experience": "regular",
    }
    sme = profile_from_sme(sme_row, last_seen_at=NOW - timedelta(days=7), now=NOW)
    assert sme.countries == {"KE", "ET"} and sme.completeness == 0.25 and sme.days_since_seen == pytest.approx(7)
    full = profile_from_sme(
        {**sme_row, "website": "https://x.it", "languages": ["it", "en"], "products": "word " * 8},
        last_seen_at=None,
        now=NOW,
    )
    assert full.completeness == 1.0 and full.activity == 0.0
    partner_row = {
        "id": 9,
        "country": "TZ",
        "sectors": ["water"],
        "languages": ["sw", "en"],
        "company_size": "medium",
        "services": "Borehole drilling",
        "city": "Dodoma",
        "website": None,
        "years_active": 0,
    }
    partner = profile_from_partner(partner_row, last_seen_at=NOW, now=NOW)
    assert partner.countries == {"TZ"} and partner.completeness == 0.25 and partner.activity == 1.0


def test_degenerate_inputs():
    sme = profile(text="the and of")  # nothing but stop words: no vocabulary at all
    index = MatchIndex([sme], [profile(2, text="we are")], queries_are_smes=True)
    assert index.breakdown(0, 0, WEIGHTS)["text"] == 0
    assert index.scores(np.arange(1), WEIGHTS).shape == (1, 1)
    empty = MatchIndex([sme], [], queries_are_smes=True)
    result = next(empty.rank([0], WEIGHTS, top_n=20))
    assert len(result.candidates) == 0
    assert index.explain(0, 0, dict.fromkeys(FACTORS, 0.0))[1:] == (FEW_POINTS, FEW_POINTS)
