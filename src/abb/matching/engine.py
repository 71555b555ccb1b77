"""The matching engine: scores SME ↔ partner pairs and ranks them, vectorized, with no database.

Seven factors, each a value in [0, 1], weighted by settings into a score of 0 to 100:

- sector: shared sectors / the smaller number of sectors of the two (1.0 when one's sectors are all the other's)
- text: cosine similarity of the TF-IDF vectors of the SME's products and the partner's services
- country: 1.0 when the partner's country is one the SME targets
- language: 1.0 when they share a language
- size: 1.0 for the same company size, 0.5 one step apart, 0.0 micro vs medium
- completeness, activity: the mean of both profiles' completeness and recent activity

The score of a pair is the same whichever side asks, so a stored match means one thing. `MatchIndex` ranks
with matrix products on a block of queries at a time (NumPy BLAS for the small code vocabularies, SciPy
sparse products for TF-IDF); `MatchIndex.breakdown` recomputes one pair in plain Python, factor by factor,
for the stored contributions and the explanation.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import sparse
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

from abb.companies.taxonomy import LANGUAGES, PARTNER_COUNTRIES, SECTORS, CompanySize
from abb.core.config import Settings
from abb.core.i18n import use_locale
from abb.matching.wording import Reason, explanation, reasons_of

# Each factor's name (its weight setting ABB_MATCHING_WEIGHT_<NAME>, its stored points) and its label on pages.
FACTOR_LABELS = {
    "sector": "Sectors in common",
    "text": "Products and services",
    "country": "Target country",
    "language": "Shared language",
    "size": "Company size",
    "completeness": "Profile completeness",
    "activity": "Recent activity",
}
FACTORS = tuple(FACTOR_LABELS)
SIZES = [s.value for s in CompanySize]  # ordered micro < small < medium
SIZE_FIT = np.array([[1.0 - abs(i - j) / 2 for j in range(len(SIZES))] for i in range(len(SIZES))], np.float32)
ACTIVITY_HALF_LIFE_DAYS = 14.0
# Words every profile uses ("we make…", "we offer…") say nothing about fit.
STOP_WORDS = sorted(ENGLISH_STOP_WORDS | {"make", "offer", "produce", "provide", "company", "products", "services"})
MIN_WORDS_FOR_COMPLETE_TEXT = 8
BLOCK_CELLS = 4_000_000  # queries x candidates scored at once: bounds the temporary arrays to tens of MB

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.intp]


@dataclass(frozen=True, slots=True)
class Profile:
    """What the engine knows of one SME or partner profile."""

    id: int
    sectors: frozenset[str]
    countries: frozenset[str]  # an SME's target countries; a partner's own country
    languages: frozenset[str]
    size: str
    text: str  # an SME's products; a partner's services
    city: str
    completeness: float  # 0..1, see profile_from_sme / profile_from_partner
    days_since_seen: float | None  # None: never signed in

    @property
    def activity(self) -> float:
        if self.days_since_seen is None:
            return 0.0
        return 0.5 ** (max(self.days_since_seen, 0.0) / ACTIVITY_HALF_LIFE_DAYS)


def _days_since(last_seen_at: datetime | None, now: datetime) -> float | None:
    return None if last_seen_at is None else (now - last_seen_at).total_seconds() / 86400


def _words(text: str) -> int:
    return len(text.split())


def profile_from_sme(row: Mapping[Any, Any], *, last_seen_at: datetime | None, now: datetime) -> Profile:
    """An SME profile (a mapping with the `sme_profiles` column names) as the engine sees it."""
    checks = (
        bool(row.get("website")),
        _words(row["products"]) >= MIN_WORDS_FOR_COMPLETE_TEXT,
        len(row["languages"]) >= 2,
        str(row["export_experience"]) != "none",
    )
    return Profile(
        id=row["id"],
        sectors=frozenset(row["sectors"]),
        countries=frozenset(row["target_countries"]),
        languages=frozenset(row["languages"]),
        size=str(row["company_size"]),
        text=row["products"],
        city=row["city"],
        completeness=sum(checks) / len(checks),
        days_since_seen=_days_since(last_seen_at, now),
    )


def profile_from_partner(row: Mapping[Any, Any], *, last_seen_at: datetime | None, now: datetime) -> Profile:
    """A partner profile (a mapping with the `partner_profiles` column names) as the engine sees it."""
    checks = (
        bool(row.get("website")),
        _words(row["services"]) >= MIN_WORDS_FOR_COMPLETE_TEXT,
        len(row["languages"]) >= 2,
        row["years_active"] > 0,
    )
    return Profile(
        id=row["id"],
        sectors=frozenset(row["sectors"]),
        countries=frozenset([row["country"]]),
        languages=frozenset(row["languages"]),
        size=str(row["company_size"]),
        text=row["services"],
        city=row["city"],
        completeness=sum(checks) / len(checks),
        days_since_seen=_days_since(last_seen_at, now),
    )


@dataclass(frozen=True)
class Weights:
    """Each factor's weight; scores are 100 x the weighted mean of the factor values."""

    values: tuple[float, ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> Weights:
        return cls(tuple(float(getattr(settings, f"matching_weight_{name}")) for name in FACTORS))

    def points(self) -> dict[str, float]:
        """How many of the 100 points each factor is worth."""
        total = sum(self.values)
        if total <= 0:
            raise ValueError("at least one matching weight must be positive")
        return {name: 100.0 * value / total for name, value in zip(FACTORS, self.values, strict=True)}


def factor_values(sme: Profile, partner: Profile, text_similarity: float) -> dict[str, float]:
    """The seven factor values of one pair, each in [0, 1] (plain Python; the vectorized path must agree)."""
    smaller = min(len(sme.sectors), len(partner.sectors))
    return {
        "sector": len(sme.sectors & partner.sectors) / smaller if smaller else 0.0,
        "text": min(max(text_similarity, 0.0), 1.0),
        "country": 1.0 if sme.countries & partner.countries else 0.0,
        "language": 1.0 if sme.languages & partner.languages else 0.0,
        "size": float(SIZE_FIT[SIZES.index(sme.size), SIZES.index(partner.size)]),
        "completeness": (sme.completeness + partner.completeness) / 2,
        "activity": (sme.activity + partner.activity) / 2,
    }


def _multi_hot(sets: Sequence[frozenset[str]], vocabulary: Sequence[str]) -> FloatArray:
    position = {code: i for i, code in enumerate(vocabulary)}
    matrix = np.zeros((len(sets), len(vocabulary)), np.float32)
    for row, codes in enumerate(sets):
        for code in codes:
            if code in position:
                matrix[row, position[code]] = 1.0
    return matrix


class _Side:
    """One side's profiles as arrays (rows in the order given)."""

    def __init__(self, profiles: Sequence[Profile], text: sparse.csr_matrix) -> None:
        self.profiles = list(profiles)
        self.sectors = _multi_hot([p.sectors for p in profiles], list(SECTORS))
        self.inverse_sector_count = 1.0 / np.maximum(self.sectors.sum(axis=1), 1.0)
        self.countries = _multi_hot([p.countries for p in profiles], list(PARTNER_COUNTRIES))
        self.languages = _multi_hot([p.languages for p in profiles], list(LANGUAGES))
        self.size = np.array([SIZES.index(p.size) for p in profiles], np.intp)
        self.completeness = np.array([p.completeness for p in profiles], np.float32)
        self.activity = np.array([p.activity for p in profiles], np.float32)
        self.text = text

    @property
    def nbytes(self) -> int:
        arrays = (self.sectors, self.inverse_sector_count, self.countries, self.languages, self.size)
        dense = sum(a.nbytes for a in (*arrays, self.completeness, self.activity))
        return dense + self.text.data.nbytes + self.text.indices.nbytes + self.text.indptr.nbytes


@dataclass(frozen=True)
class Ranked:
    """The best candidates of one query, best first: positions in the candidate list and their scores."""

    query: int
    candidates: IntArray
    scores: FloatArray


class MatchIndex:
    """SMEs and partners encoded once, ready to rank any of them against all of the other side.

    `queries` are the profiles to rank for, `candidates` the other side; `queries_are_smes` says which side is
    which (scores do not depend on it, explanations do).
    """

    def __init__(self, queries: Sequence[Profile], candidates: Sequence[Profile], *, queries_are_smes: bool) -> None:
        self.queries_are_smes = queries_are_smes
        self.vectorizer = TfidfVectorizer(
            stop_words=STOP_WORDS,
            sublinear_tf=True,
            dtype=np.float32,
            # Words of two or more letters; hyphenated ones ("cold-chain", "agri-food") stay whole.
            token_pattern=r"(?u)\b[^\W\d_]+(?:-[^\W\d_]+)+\b|\b[^\W\d_]{2,}\b",  # noqa: S106 - a regex
        )
        texts = [p.text for p in queries] + [p.text for p in candidates]
        try:
            tfidf = sparse.csr_matrix(self.vectorizer.fit_transform(texts))
            self.terms: npt.NDArray[np.str_] = self.vectorizer.get_feature_names_out()
        except ValueError:  # no profiles, or texts of nothing but stop words: the text factor stays 0
            tfidf = sparse.csr_matrix((len(texts), 0), dtype=np.float32)
            self.terms = np.array([], dtype=np.str_)
        self.queries = _Side(queries, sparse.csr_matrix(tfidf[: len(queries)]))
        self.candidates = _Side(candidates, sparse.csr_matrix(tfidf[len(queries) :]))
        # Transposed once so that each block is one sparse x sparse product.
        self._candidate_text_t = sparse.csr_matrix(self.candidates.text.T)
        self._candidate_sectors_t = np.ascontiguousarray(self.candidates.sectors.T)
        self._candidate_countries_t = np.ascontiguousarray(self.candidates.countries.T)
        self._candidate_languages_t = np.ascontiguousarray(self.candidates.languages.T)

    @property
    def nbytes(self) -> int:
        """Memory held by the encoded profiles (arrays and sparse matrices, not the input objects)."""
        transposed = (self._candidate_sectors_t, self._candidate_countries_t, self._candidate_languages_t)
        text_t = self._candidate_text_t
        return (
            self.queries.nbytes
            + self.candidates.nbytes
            + sum(a.nbytes for a in transposed)
            + text_t.data.nbytes
            + text_t.indices.nbytes
            + text_t.indptr.nbytes
        )

    def scores(self, query_positions: IntArray, weights: Weights) -> FloatArray:
        """Scores (0-100) of the given queries against every candidate: a len(queries) x len(candidates) array."""
        points = weights.points()
        q, c = self.queries, self.candidates
        rows = query_positions
        total = q.sectors[rows] @ self._candidate_sectors_t  # shared sector counts
        total *= np.maximum(q.inverse_sector_count[rows, None], c.inverse_sector_count[None, :])
        total *= points["sector"]
        text = (q.text[rows] @ self._candidate_text_t).toarray()
        np.clip(text, 0.0, 1.0, out=text)
        total += points["text"] * text
        for weight, query_codes, candidate_codes_t in (
            (points["country"], q.countries, self._candidate_countries_t),
            (points["language"], q.languages, self._candidate_languages_t),
        ):
            shared = query_codes[rows] @ candidate_codes_t
            total += weight * np.minimum(shared, 1.0)
        total += points["size"] * SIZE_FIT[q.size[rows]][:, c.size]
        # Completeness and activity are means of both sides: a per-candidate and a per-query term.
        half_completeness, half_activity = points["completeness"] / 2, points["activity"] / 2
        total += half_completeness * c.completeness + half_activity * c.activity
        total += (half_completeness * q.completeness[rows] + half_activity * q.activity[rows])[:, None]
        return total.astype(np.float32, copy=False)

    def rank(
        self, query_positions: Sequence[int] | IntArray, weights: Weights, *, top_n: int, min_score: float = 0.0
    ) -> Iterator[Ranked]:
        """The top `top_n` candidates (score ≥ min_score) of each query, best first, in blocks of queries."""
        positions = np.asarray(query_positions, np.intp)
        n_candidates = len(self.candidates.profiles)
        k = min(top_n, n_candidates)
        block = max(1, BLOCK_CELLS // max(n_candidates, 1))
        for start in range(0, len(positions), block):
            rows = positions[start : start + block]
            if k == 0:
                for query in rows:
                    yield Ranked(int(query), np.empty(0, np.intp), np.empty(0, np.float32))
                continue
            scores = self.scores(rows, weights)
            best = np.argpartition(scores, n_candidates - k, axis=1)[:, n_candidates - k :]
            best_scores = np.take_along_axis(scores, best, axis=1)
            order = np.argsort(-best_scores, axis=1, kind="stable")
            best = np.take_along_axis(best, order, axis=1)
            best_scores = np.take_along_axis(best_scores, order, axis=1)
            for query, candidates, values in zip(rows, best, best_scores, strict=True):
                keep = values >= min_score
                yield Ranked(int(query), candidates[keep], values[keep])

    def _text_row(self, side: _Side, position: int) -> dict[int, float]:
        text = side.text
        start, end = text.indptr[position], text.indptr[position + 1]
        return dict(zip(text.indices[start:end].tolist(), text.data[start:end].tolist(), strict=True))

    def _term_products(self, query: int, candidate: int) -> dict[int, float]:
        mine, theirs = self._text_row(self.queries, query), self._text_row(self.candidates, candidate)
        return {term: weight * theirs[term] for term, weight in mine.items() if term in theirs}

    def text_similarity(self, query: int, candidate: int) -> float:
        """Cosine similarity of the two (L2-normalized) TF-IDF vectors."""
        return sum(self._term_products(query, candidate).values())

    def shared_terms(self, query: int, candidate: int, limit: int = 3) -> list[str]:
        """The words that weigh most in both texts, strongest first."""
        products = self._term_products(query, candidate)
        return [str(self.terms[term]) for term in sorted(products, key=lambda t: -products[t])[:limit]]

    def pair(self, query: int, candidate: int) -> tuple[Profile, Profile]:
        """(SME, partner) of a query and a candidate position."""
        q, c = self.queries.profiles[query], self.candidates.profiles[candidate]
        return (q, c) if self.queries_are_smes else (c, q)

    def breakdown(self, query: int, candidate: int, weights: Weights) -> dict[str, float]:
        """Points each factor contributes to one pair's score (they add up to the score)."""
        sme, partner = self.pair(query, candidate)
        values = factor_values(sme, partner, self.text_similarity(query, candidate))
        return {name: weight * values[name] for name, weight in weights.points().items()}

    def explain(self, query: int, candidate: int, contributions: Mapping[str, float]) -> tuple[list[Reason], str, str]:
        """The two or three strongest reasons as facts, and in English words for the SME and for the partner."""
        sme, partner = self.pair(query, candidate)
        strongest = sorted((n for n in FACTORS if contributions[n] > 0.5), key=lambda n: -contributions[n])[:3]
        terms = self.shared_terms(query, candidate) if "text" in strongest else []
        reasons = reasons_of(sme, partner, strongest, terms)
        with use_locale("en"):  # the stored text is the API's, which stays English whoever triggered the run
            return reasons, explanation(reasons, reader_is_sme=True), explanation(reasons, reader_is_sme=False)


def warm_up() -> None:
    """Rank one made-up pair once. The first ranking of a process loads and initializes parts of scikit-learn,
    SciPy and NumPy while holding the GIL, which stopped the event loop for 0.2-0.9 s in the first
    `POST /api/v1/matches/recompute`; the server calls this before it accepts requests."""
    sample = Profile(
        id=0,
        sectors=frozenset(list(SECTORS)[:1]),
        countries=frozenset(list(PARTNER_COUNTRIES)[:1]),
        languages=frozenset(list(LANGUAGES)[:1]),
        size=SIZES[0],
        text="pasta production lines and food packaging",
        city="",
        completeness=1.0,
        days_since_seen=1.0,
    )
    index = MatchIndex([sample], [sample], queries_are_smes=True)
    weights = Weights(tuple(1.0 for _ in FACTORS))
    for ranked in index.rank([0], weights, top_n=1):
        for candidate in ranked.candidates:
            index.explain(ranked.query, int(candidate), index.breakdown(ranked.query, int(candidate), weights))
