"""How well the injection detector (abb.security.detection) tells attacks from ordinary text.

    .venv/bin/python benchmarks/detection.py

Attack corpora, built from public payload files read from the installed `sqlmap` package (a dev dependency):
  sqli       every boolean-blind, error-based, inline, stacked and time-blind test payload of sqlmap
             (data/xml/payloads/*.xml) inside each of its injection boundaries (data/xml/boundaries.xml:
             the quote/parenthesis prefixes and comment suffixes), placeholders filled in, plus UNION probes
  traversal  every file of sqlmap's file-disclosure list (data/txt/common-files.txt) behind the usual
             ../ sequences: plain, URL-encoded, double-encoded, backslashed, overlong UTF-8
  xss        the vectors of the OWASP XSS Filter Evasion Cheat Sheet (sqlmap ships none), in XSS_VECTORS
Legitimate corpus: what this platform's users type: company names and descriptions in Italian and English
(Faker it_IT / en_GB, and the demo data's product texts), names such as O'Brien and D'Angelo, product lists
with quotes, dashes, percentages and SQL words ("select", "union", "drop-off", "order by 10%"), addresses,
e-mail addresses, URLs and search queries.

Prints, per attack class, the share detected, and the false-positive rate on the legitimate corpus, with
the cost per value (median of 5 rounds). Targets (issue 15): >= 95 % detected, <= 0.1 % false positives.
"""

from __future__ import annotations

import random
import re
import statistics
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from faker import Faker

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from abb.security.detection import SQLI, TRAVERSAL, XSS, classify

RANDOM = random.Random(2026)
XSS_VECTORS = [
    "<script>alert('XSS')</script>",
    "<SCRIPT SRC=https://xss.example/xss.js></SCRIPT>",
    "javascript:/*--></title></style></textarea></script></xmp><svg/onload='+/\"/+/onmouseover=1/+/[*/[]/+alert(1)//'>",
    "<IMG SRC=\"javascript:alert('XSS');\">",
    "<IMG SRC=javascript:alert('XSS')>",
    "<IMG SRC=JaVaScRiPt:alert('XSS')>",
    "<IMG SRC=`javascript:alert(\"RSnake says, 'XSS'\")`>",
    '<a onmouseover="alert(document.cookie)">xxs link</a>',
    '<IMG """><SCRIPT>alert("XSS")</SCRIPT>"\\>',
    "<IMG SRC=javascript:alert(String.fromCharCode(88,83,83))>",
    "<IMG SRC=# onmouseover=\"alert('xxs')\">",
    '<IMG SRC=/ onerror="alert(String.fromCharCode(88,83,83))"></img>',
    '<img src=x onerror="&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114&#0000105&#0000112&#0000116&#0000058&#0000097&#0000108&#0000101&#0000114&#0000116&#0000040&#0000039&#0000088&#0000083&#0000083&#0000039&#0000041">',  # noqa: E501
    "<IMG SRC=&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;&#97;&#108;&#101;&#114;&#116;&#40;&#39;&#88;&#83;&#83;&#39;&#41;>",  # noqa: E501
    "<IMG SRC=\"jav\tascript:alert('XSS');\">",
    "<IMG SRC=\" &#14;  javascript:alert('XSS');\">",
    '<SCRIPT/XSS SRC="http://xss.example/xss.js"></SCRIPT>',
    '<BODY onload!#$%&()*~+-_.,:;?@[/|\\]^`=alert("XSS")>',
    '<<SCRIPT>alert("XSS");//\\<</SCRIPT>',
    "<SCRIPT SRC=http://xss.example/xss.js?< B >",
    "<IMG SRC=\"`<javascript:alert>`('XSS')\"",
    '</TITLE><SCRIPT>alert("XSS");</SCRIPT>',
    '<INPUT TYPE="IMAGE" SRC="javascript:alert(\'XSS\');">',
    "<BODY BACKGROUND=\"javascript:alert('XSS')\">",
    "<IMG DYNSRC=\"javascript:alert('XSS')\">",
    "<svg/onload=alert('XSS')>",
    "<BODY ONLOAD=alert('XSS')>",
    "<IFRAME SRC=\"javascript:alert('XSS');\"></IFRAME>",
    "<iframe src=https://xss.example/scriptlet.html <",
    "<TABLE BACKGROUND=\"javascript:alert('XSS')\">",
    "<DIV STYLE=\"background-image: url(javascript:alert('XSS'))\">",
    "<DIV STYLE=\"width: expression(alert('XSS'));\">",
    "<STYLE>@import'http://xss.example/xss.css';</STYLE>",
    '<META HTTP-EQUIV="refresh" CONTENT="0;url=javascript:alert(\'XSS\');">',
    '<OBJECT TYPE="text/x-scriptlet" DATA="http://xss.example/scriptlet.html"></OBJECT>',
    '<EMBED SRC="data:image/svg+xml;base64,PHN2ZyB4bWxuczpzdmc9Imh0dH A6Ly93d3cudzMub3JnLzIwMDAvc3ZnIiB4bWxucz0iaHR0cDovL3d3dy53My5vcmcv MjAwMC9zdmciIHhtbG5zOnhsaW5rPSJodHRwOi8vd3d3LnczLm9yZy8xOTk5L3hs aW5rIiB2ZXJzaW9uPSIxLjAiIHg9IjAiIHk9IjAiIHdpZHRoPSIxOTQiIGhlaWdodD0iMjAw IiBpZD0ieHNzIj48c2NyaXB0IHR5cGU9InRleHQvZWNtYXNjcmlwdCI+YWxlcnQoIlh TUyIpOzwvc2NyaXB0Pjwvc3ZnPg==" type="image/svg+xml" AllowScriptAccess="always"></EMBED>',  # noqa: E501
    '<SCRIPT a=">" SRC="httx://xss.example/xss.js"></SCRIPT>',
    "<A HREF=\"javascript:document.location='http://www.google.com/'\">XSS</A>",
    "<details open ontoggle=alert(1)>",
    '<video><source onerror="alert(1)">',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '"><script>alert(document.domain)</script>',
    "'><img src=x onerror=alert(1)>",
    "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    '<a href="jAvAsCrIpT:alert(1)">click</a>',
    "<base href=\"javascript:alert('XSS');//\">",
    "<link rel=stylesheet href=\"javascript:alert('XSS');\">",
    "<body onpageshow=alert(1)>",
    "<input autofocus onfocus=alert(1)>",
]
PLACEHOLDERS = {
    "[SLEEPTIME]": "5",
    "[INFERENCE]": "6171=6171",
    "[GENERIC_SQL_COMMENT]": "-- -",
    "[DELIMITER_START]": "0x71786b7071",
    "[DELIMITER_STOP]": "0x7178627171",
    "[ORIGVALUE]": "1",
    "[ORIGINAL]": "1",
    "[QUERY]": "SELECT 1",
    "[SPACE_REPLACE]": " ",
    "[CHAR]": "NULL",
    "[COLSTART]": "1",
    "[COLSTOP]": "5",
}


def _fill(text: str) -> str:
    for name, value in PLACEHOLDERS.items():
        text = text.replace(name, value)
    text = re.sub(r"\[RANDNUM\d?\]", lambda _m: str(RANDOM.randint(1000, 9999)), text)
    text = re.sub(r"\[RANDSTR\d?\]", lambda _m: "".join(RANDOM.choices("abcdefghijklmnop", k=4)), text)
    return re.sub(r"\[[A-Z_]+\]", "1", text)


def sqlmap_dir() -> Path:
    import sqlmap

    return Path(sqlmap.__file__).parent / "data"


def sqli_corpus() -> list[str]:
    data = sqlmap_dir()
    boundaries = [
        (b.findtext("prefix") or "", b.findtext("suffix") or "")
        for b in ET.parse(data / "xml" / "boundaries.xml").getroot().iter("boundary")
    ]
    payloads = []
    for path in sorted((data / "xml" / "payloads").glob("*.xml")):
        for test in ET.parse(path).getroot().iter("test"):
            payload = test.findtext("request/payload")
            comment = test.findtext("request/comment") or ""
            if payload:
                payloads.append((payload, comment))
    corpus = set()
    for payload, comment in payloads:
        for prefix, suffix in boundaries:
            corpus.add(_fill(f"1{prefix} {payload}{comment} {suffix}".strip()))
    for columns in range(1, 11):  # sqlmap builds UNION probes in code: the same shapes
        nulls = ",".join(["NULL"] * columns)
        for prefix in ("", "'", '"', ")", "')"):
            corpus.add(f"1{prefix} UNION ALL SELECT {nulls}-- -")
            corpus.add(f"-1{prefix} UNION SELECT {nulls}#")
    return sorted(corpus)


def traversal_corpus() -> list[str]:
    files = [
        line.strip()
        for line in (sqlmap_dir() / "txt" / "common-files.txt").read_text(errors="replace").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    shapes = (
        "../../../..{f}",
        "..%2f..%2f..%2f..{f}",
        "%2e%2e%2f%2e%2e%2f{f}",
        "..%252f..%252f{f}",
        "..\\..\\..{f}",
        "....//....//....//{f}",
        "%c0%ae%c0%ae/%c0%ae%c0%ae{f}",
        "/..;/..;{f}",
    )
    return [shape.format(f=f if f.startswith("/") else "/" + f) for f in files for shape in shapes]


TRICKY = [
    "O'Brien",
    "D'Angelo",
    "Dell'Acqua & Figli S.r.l.",
    "Sant'Anna",
    "L'Aquila",
    "Pasta 'di Gragnano' IGP",
    "Select the best union of suppliers",
    "drop-off and pick-up service",
    "Order by 10% before Friday",
    "We union small producers; select the best drop-off point",
    "Sconto del 20% su ordini > 500 kg",
    "Macchine per l'imballaggio (confezionamento) - 10% in meno",
    'Coffee "AA" grade - Nyeri, Kenya',
    "Select/insert inserts for packaging lines",
    "From 1 to 5 tonnes; delete-free delivery",
    "C'è anche l'olio",
    "Rock & Roll -- the best",
    "Vini DOC/DOCG - 6 x 0,75 l",
    "Cost: 1/2 of market price",
    "A OR B grade beans",
    "Tea (black, green) - 'CTC' and 'orthodox'",
    "Union Européenne / EU; select a country",
    "it's 1=1 match",
    "where's the warehouse?",
    "Prezzi: 3,50 € - 4,20 €",
    "drop table legs and chairs (furniture)",
    "John O'Neil <john@example.com>",
    "https://pastificio.example.it/prodotti?tipo=secca&formato=500g",
    "Mombasa-Nairobi corridor; 48h delivery",
    "Ethiopian Yirgacheffe 'Grade 1' -- washed",
    "100% organic",
]


def legitimate_corpus(size: int = 20_000) -> list[str]:
    corpus = list(TRICKY)
    fakers = (Faker("it_IT"), Faker("en_GB"), Faker("sw"))
    for faker in fakers:
        faker.seed_instance(2026)
    from abb.demo import seed

    demo_texts = [v for v in vars(seed).values() if isinstance(v, list | tuple) for v in v if isinstance(v, str)]
    corpus.extend(demo_texts)
    while len(corpus) < size:
        faker = RANDOM.choice(fakers)
        kind = RANDOM.randrange(8)
        if kind == 0:
            corpus.append(faker.company())
        elif kind == 1:
            corpus.append(faker.catch_phrase() if hasattr(faker, "catch_phrase") else faker.sentence())
        elif kind == 2:
            corpus.append(faker.paragraph(nb_sentences=3))
        elif kind == 3:
            corpus.append(faker.name())
        elif kind == 4:
            corpus.append(faker.address())
        elif kind == 5:
            corpus.append(faker.email())
        elif kind == 6:
            corpus.append(faker.url() + "?q=" + faker.word())
        else:
            words = [faker.word() for _ in range(4)]
            corpus.append(f"{words[0]} - {RANDOM.randint(1, 99)}% {words[1]}; '{words[2]}' ({words[3]})")
    return corpus


def measure(values: list[str], expected: str | None) -> tuple[float, list[str], float]:
    """(share classified as `expected` (None: as anything), misses, median µs per value)."""
    timings = []
    for _ in range(5):
        start = time.perf_counter()
        found = [classify(value) for value in values]
        timings.append((time.perf_counter() - start) / len(values) * 1e6)
    if expected is None:
        flagged = [v for v, f in zip(values, found, strict=True) if f is not None]
        return len(flagged) / len(values), flagged, statistics.median(timings)
    missed = [v for v, f in zip(values, found, strict=True) if f is None]
    return 1 - len(missed) / len(values), missed, statistics.median(timings)


def main() -> None:
    print(f"{'class':<10} {'values':>7} {'detected':>9} {'µs/value':>9}  target >= 95 %")
    ok = True
    for name, corpus in ((SQLI, sqli_corpus()), (XSS, XSS_VECTORS), (TRAVERSAL, traversal_corpus())):
        rate, missed, cost = measure(corpus, name)
        ok &= rate >= 0.95
        print(f"{name:<10} {len(corpus):>7} {rate:>8.2%} {cost:>9.1f}")
        for sample in missed[:8]:
            print(f"           missed: {sample[:100]!r}")
    legit = legitimate_corpus()
    rate, flagged, cost = measure(legit, None)
    ok &= rate <= 0.001
    print(f"{'legitimate':<10} {len(legit):>7} {rate:>8.3%} {cost:>9.1f}  false positives, target <= 0.1 %")
    for sample in flagged[:10]:
        print(f"           flagged: {sample[:100]!r} -> {classify(sample)}")
    print("verdict:", "targets met" if ok else "TARGETS MISSED")


if __name__ == "__main__":
    main()
