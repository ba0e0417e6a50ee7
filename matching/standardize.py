"""Standardize source-record values on ingestion.

Every value a source system sends is cleaned and put into one canonical form
per attribute *type*, plus a few derived *match forms* ("parts") that the
comparisons and blocking rules use. Pure Python, no Django.

>>> from matching.standardize import AttributeSpec, Context, standardize_record, standardize_value
>>> standardize_value("phone", "(415) 555-0123 x12", Context(default_region="US")).value
'+14155550123'
>>> r = standardize_value("company_name", "ACME SUPPLY CO., INC")
>>> r.value, r.parts["core"], r.parts["legal_form"]
('Acme Supply Co., Inc.', 'acme supply', 'inc')
>>> specs = [AttributeSpec("phone", "phone"), AttributeSpec("country", "country", required=True)]
>>> result = standardize_record(specs, {"phone": "020 7946 0958", "country": "United Kingdom"})
>>> result.attributes["phone"], result.attributes["country"]
('+442079460958', 'GB')

Conventions (the "why" behind choices the rest of the hub relies on):

* ``value`` is ``None`` for empty *and* for invalid input; ``issue``/``code``
  tell the two apart. Nothing here raises on bad data; only an unknown
  attribute type (a programmer error) raises ``ValueError``.
* Cleaning (NFC, control characters dropped, whitespace collapsed) is silent:
  a stray tab or NUL is not worth a steward's attention, and an issue always
  means "this value was rejected". So there is no ``control_characters`` code.
* HTML is kept verbatim; escaping is the UI's job.
* Match parts are lower-case ASCII (accents folded) except address parts,
  which stay upper-case like the USPS-style value they derive from.
* Results of low-cardinality types (country, region, city, postcode, currency,
  UOM, code, boolean) and of phone numbers are memoised; cached results are
  shared, which is why ``parts`` is a read-only mapping.
"""

from __future__ import annotations

import math
import re
import unicodedata
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import phonenumbers
from phonenumbers import PhoneNumber, PhoneNumberFormat
from stdnum import get_cc_module
from stdnum.us import ein as us_ein
from stdnum.us import itin as us_itin
from stdnum.us import ssn as us_ssn

from matching import standardize_data as D

__all__ = [
    "ATTRIBUTE_TYPES",
    "DEFAULT_MAX_LENGTH",
    "AttributeSpec",
    "Context",
    "RecordResult",
    "Standardized",
    "ascii_fold",
    "clear_caches",
    "standardize_record",
    "standardize_value",
]

# --------------------------------------------------------------------------- #
# Public data types
# --------------------------------------------------------------------------- #

DEFAULT_MAX_LENGTH: Mapping[str, int] = MappingProxyType({
    "company_name": 255,
    "person_name": 255,
    "address_line": 255,
    "city": 255,
    "region": 255,
    "postcode": 32,
    "country": 255,
    "phone": 64,
    "email": 254,  # RFC 5321 path limit
    "tax_id": 64,
    "gtin": 32,
    "mpn": 100,
    "uom": 32,
    "currency": 64,
    "money": 64,
    "decimal": 64,
    "integer": 64,
    "boolean": 16,
    "date": 64,
    "datetime": 64,
    "text": 4000,
    "code": 100,
    "url": 2048,
    "reference": 255,
})

ATTRIBUTE_TYPES: frozenset[str] = frozenset(DEFAULT_MAX_LENGTH)


@dataclass(frozen=True, slots=True)
class AttributeSpec:
    """One attribute of an entity type, as far as standardization cares.

    >>> AttributeSpec("phone", "phone", required=True)
    AttributeSpec(name='phone', type='phone', required=True, max_length=None, references=None)
    """

    name: str
    type: str
    required: bool = False
    max_length: int | None = None
    references: str | None = None

    def __post_init__(self) -> None:
        if self.type not in ATTRIBUTE_TYPES:
            raise ValueError(f"unknown attribute type {self.type!r} for {self.name!r}")


@dataclass(frozen=True, slots=True)
class Context:
    """What the standardizer may know about where a value comes from."""

    default_region: str | None = None
    country: str | None = None
    dayfirst: bool = False


@dataclass(frozen=True, slots=True)
class Standardized:
    """The outcome for one value: canonical ``value``, match ``parts``, or an issue."""

    value: Any
    parts: Mapping[str, Any]
    issue: str | None = None
    code: str | None = None


@dataclass(slots=True)
class RecordResult:
    """Flattened outcome for one record, ready to be stored next to the raw payload."""

    attributes: dict[str, Any]
    issues: list[dict]
    missing_required: list[str]


_NO_PARTS: Mapping[str, Any] = MappingProxyType({})
_EMPTY = Standardized(None, _NO_PARTS)
_NO_CONTEXT = Context()


def _ok(value: Any, parts: dict[str, Any] | None = None) -> Standardized:
    """A valid result; falsy parts are dropped so consumers never see empty match forms."""
    if not parts:
        return Standardized(value, _NO_PARTS)
    if not all(parts.values()):
        parts = {k: v for k, v in parts.items() if v}
        if not parts:
            return Standardized(value, _NO_PARTS)
    return Standardized(value, MappingProxyType(parts))


def _preview(s: str) -> str:
    return repr(s if len(s) <= 60 else s[:57] + "...")


def _invalid(code: str, what: str, s: str) -> Standardized:
    return Standardized(None, _NO_PARTS, f"{_preview(s)} is not a valid {what}", code)


# --------------------------------------------------------------------------- #
# Cleaning and folding
# --------------------------------------------------------------------------- #

# C0/C1 controls, soft hyphen and zero-width characters are dropped; the ones
# that act as line or field separators become spaces so words do not fuse.
_CTRL_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u200b-\u200d\u2028\u2029\u2060\ufeff]")
_CTRL_TABLE = {c: None for c in (*range(0x09), *range(0x0E, 0x1C), *range(0x7F, 0xA0),
                                 0xAD, 0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF)}
_CTRL_TABLE.update({c: " " for c in (0x0B, 0x0C, 0x1C, 0x1D, 0x1E, 0x1F, 0x85, 0x2028, 0x2029)})


def _clean(s: str) -> str:
    if _CTRL_RE.search(s):
        s = s.translate(_CTRL_TABLE)
    if not s.isascii():
        s = unicodedata.normalize("NFC", s)
    return " ".join(s.split())


def _coerce(raw: Any) -> str | Standardized:
    """Turn a non-string scalar into text; reject containers."""
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, float):
        if math.isnan(raw):  # pandas' "missing"
            return _EMPTY
        if raw.is_integer() and abs(raw) < 1e16:
            return str(int(raw))
        return repr(raw)
    if isinstance(raw, (int, Decimal)):
        return str(raw)
    if isinstance(raw, (bytes, bytearray)):
        return bytes(raw).decode("utf-8", "replace")
    if isinstance(raw, (datetime, date)):
        return raw.isoformat()
    return Standardized(None, _NO_PARTS, f"expected a single value, got {type(raw).__name__}",
                        "invalid_type")


def _prep(raw: Any, max_length: int) -> str | Standardized:
    """Clean ``raw``; return the string, or a finished result (empty / too long)."""
    if raw is None:
        return _EMPTY
    if type(raw) is not str:
        raw = _coerce(raw)
        if type(raw) is not str:
            return raw
    s = _clean(raw)
    if not s or (len(s) <= 6 and s.lower() in D.NULL_TOKENS):
        return _EMPTY
    if len(s) > max_length:
        return Standardized(None, _NO_PARTS,
                            f"value is {len(s)} characters long, the limit is {max_length}",
                            "too_long")
    return s


# Characters NFKD cannot take apart but that have an obvious ASCII spelling;
# trademark signs become spaces so "Acme™" folds to "acme", not "acmetm".
_FOLD_TABLE = str.maketrans({
    "ß": "ss", "ẞ": "SS", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O", "œ": "oe", "Œ": "OE",
    "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "TH",
    "ı": "i", "ħ": "h", "Ħ": "H", "ŋ": "n", "Ŋ": "N", "ſ": "s",
    "™": " ", "®": " ", "©": " ", "℠": " ",
    "‘": "'", "’": "'", "‚": ",", "“": '"', "”": '"', "–": "-", "—": "-", "‐": "-",
})


def ascii_fold(s: str) -> str:
    """Lower-case ``s`` and fold it to ASCII ("Müller" -> "muller")."""
    if s.isascii():
        return s.lower()
    s = unicodedata.normalize("NFKD", s.translate(_FOLD_TABLE))
    return s.encode("ascii", "ignore").decode("ascii").lower()


_JOINERS_RE = re.compile(r"['`.]")
_NON_ALNUM_RE = re.compile(r"[^a-z0-9]+")


def _match_form(s: str, *, join_periods: bool = True) -> str:
    """Lower ASCII, punctuation to spaces; periods/apostrophes join ("O'Brien" -> "obrien")."""
    s = ascii_fold(s)
    if join_periods:
        s = _JOINERS_RE.sub("", s)
    else:
        s = s.replace("'", "")
    return " ".join(_NON_ALNUM_RE.sub(" ", s).split())


# --------------------------------------------------------------------------- #
# Title-casing for ALL-CAPS / all-lower input
# --------------------------------------------------------------------------- #

_WORD_RE = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_VOWELS = frozenset("aeiouyàáâãäåèéêëìíîïòóôõöùúûüý")
_TITLE_ABBREVS = frozenset({
    "st", "dr", "mr", "mrs", "ms", "ft", "mt", "jr", "sr", "hwy", "rd", "ln", "ct", "pkwy",
    "blvd", "bldg", "pl", "mfg", "svc", "svcs", "whse", "pkg", "dept", "ctr", "grp", "hldgs",
    "mgmt", "mktg", "natl", "intl", "bros", "sply", "mfrs", "mfr", "mtn", "spgs", "hts",
})


def _needs_case_fix(s: str) -> bool:
    return s.isupper() or s.islower()


def _title_word(w: str, first: bool, acronyms: bool) -> str:
    lw = w.lower()
    if acronyms:
        if lw in D.KNOWN_ACRONYMS:
            return w.upper()
        if (len(lw) <= 4 and lw.isalpha() and lw not in _TITLE_ABBREVS
                and lw not in D.COMPANY_ABBREVIATIONS and not (_VOWELS & set(lw))):
            return w.upper()
    if not first and lw in D.SMALL_WORDS:
        return lw
    if "'" in lw or "’" in lw:
        head, sep, tail = lw.replace("’", "'").partition("'")
        if len(head) == 1 and len(tail) > 1:  # O'Brien, D'Angelo
            return head.upper() + sep + tail.capitalize()
        return head.capitalize() + sep + tail  # Joe's
    if lw.startswith("mc") and len(lw) > 3:
        return "Mc" + lw[2:].capitalize()
    return lw.capitalize()


@lru_cache(maxsize=65536)
def _title_token(token: str, first: bool, acronyms: bool) -> str:
    words = _WORD_RE.findall(token)
    if not words:
        return token
    if len(words) == 1 and words[0] == token:
        return _title_word(token, first, acronyms)
    state = [first]

    def repl(m: re.Match[str]) -> str:
        out = _title_word(m.group(), state[0], acronyms)
        state[0] = False
        return out

    return _WORD_RE.sub(repl, token)


def _smart_title(s: str, *, acronyms: bool = False) -> str:
    """Title-case ``s`` the way a person would ("JOE'S O'BRIEN & SONS OF NY")."""
    # Memoised per token: names are built from a small vocabulary of words.
    return " ".join([_title_token(t, i == 0, acronyms) for i, t in enumerate(s.split(" "))])


# --------------------------------------------------------------------------- #
# company_name
# --------------------------------------------------------------------------- #

@lru_cache(maxsize=65536)
def _legal_key(token: str) -> str:
    return ascii_fold(token).translate(_LEGAL_KEY_STRIP)


_LEGAL_KEY_STRIP = str.maketrans("", "", ".,-()")


def _build_legal_terms() -> tuple[frozenset[str], int]:
    # cleanco owns the international list of legal forms; we borrow its terms
    # but match them with set lookups on the trailing tokens, because
    # cleanco.basename scans all ~250 terms (three times) for every name.
    from cleanco.clean import get_unique_terms

    terms: set[str] = set()
    for term in (*get_unique_terms(), *D.EXTRA_LEGAL_TERMS):
        key = " ".join(_legal_key(t) for t in term.split())
        if key and key not in D.LEGAL_TERM_DENYLIST:
            terms.add(key)
    terms.add("and co")
    return frozenset(terms), max(len(t.split()) for t in terms)


_LEGAL_TERMS, _LEGAL_MAX_TOKENS = _build_legal_terms()
# Most names do not end in a legal form at all; checking the last token
# against this set skips the multi-token joins for them.
_LEGAL_LAST_TOKENS = frozenset(t.rsplit(" ", 1)[-1] for t in _LEGAL_TERMS)


def _legal_short(key: str) -> str:
    short = D.LEGAL_SHORT.get(key)
    if short is None:
        short = " ".join(t for t in key.split() if t not in ("&", "and"))
    return short


@lru_cache(maxsize=4096)
def _legal_display(key: str, original: str, fix_case: bool) -> str:
    display = D.LEGAL_DISPLAY.get(key)
    if display is not None:
        return display
    return _smart_title(original) if fix_case else original


_COMMA_GLUE_RE = re.compile(r",(?=[^\W\d_])")


@lru_cache(maxsize=65536)
def _core_token(token: str) -> tuple[str, ...]:
    folded = ascii_fold(token).replace("&", " and ").replace("+", " and ")
    return tuple(_NON_ALNUM_RE.sub(" ", _JOINERS_RE.sub("", folded)).split())


def _company_core(display_tokens: list[str]) -> list[str]:
    tokens: list[str] = []
    for t in display_tokens:
        tokens.extend(_core_token(t))
    # "A B C Supply" and "A.B.C. Supply" should meet at "abc supply".
    merged: list[str] = []
    run = False
    for t in tokens:
        single = len(t) == 1 and t.isalpha()
        if single and run:
            merged[-1] += t
        else:
            merged.append(t)
        run = single
    tokens = merged
    last = len(tokens) - 1
    abbreviations = D.COMPANY_ABBREVIATIONS
    out = []
    for i, t in enumerate(tokens):
        exp = abbreviations.get(t)
        if exp is not None and not (i == last and t in ("co", "corp")):
            t = exp
        out.append(t)
    if len(out) > 1 and out[0] in D.COMPANY_STOP_LEADING:
        del out[0]
    while len(out) > 1 and out[-1] == "and":
        del out[-1]
    return out


def _company_name(s: str) -> Standardized:
    if "," in s:
        s = _COMMA_GLUE_RE.sub(", ", s)
    tokens = s.split(" ")
    keys = [_legal_key(t) for t in tokens]
    end = len(tokens)
    groups: list[tuple[int, int, str]] = []
    # Strip stacked legal forms from the end ("Co., Ltd.") but never the whole name.
    while end > 1 and len(groups) < 3 and keys[end - 1] in _LEGAL_LAST_TOKENS:
        for k in range(min(_LEGAL_MAX_TOKENS, end - 1), 0, -1):
            key = " ".join(keys[end - k:end])
            if key in _LEGAL_TERMS:
                groups.append((end - k, end, key))
                end -= k
                break
        else:
            break

    fix_case = _needs_case_fix(s)
    core_display = " ".join(tokens[:end])
    if fix_case:
        core_display = _smart_title(core_display, acronyms=True)
    pieces = [core_display]
    for start, stop, key in reversed(groups):
        original = " ".join(tokens[start:stop])
        trailing = "," if original.endswith(",") else ""
        original = original.rstrip(",")
        pieces.append(_legal_display(key, original, fix_case) + trailing)
    value = " ".join(pieces).rstrip(",")

    core_tokens = _company_core(tokens[:end])
    if not core_tokens:  # punctuation-only names: fall back to the whole thing
        core_tokens = _match_form(s).split()
    core = " ".join(core_tokens)
    return _ok(value, {
        "core": core,
        "legal_form": _legal_short(groups[0][2]) if groups else None,
        "tokens_sorted": " ".join(sorted(core_tokens)),
    })


# --------------------------------------------------------------------------- #
# person_name
# --------------------------------------------------------------------------- #

_HONORIFIC_DISPLAY = {"mr": "Mr.", "mrs": "Mrs.", "ms": "Ms.", "dr": "Dr.", "prof": "Prof.",
                      "rev": "Rev.", "hon": "Hon.", "mx": "Mx.", "sr": "Sr.", "capt": "Capt."}
_SUFFIX_DISPLAY = {"jr": "Jr.", "sr": "Sr.", "phd": "PhD", "esq": "Esq.", "md": "MD",
                   "dds": "DDS", "cpa": "CPA", "mba": "MBA", "ret": "Ret."}


@lru_cache(maxsize=65536)
def _name_key(token: str) -> str:
    return ascii_fold(token).replace(".", "")


_token_form = lru_cache(maxsize=65536)(_match_form)


def _tokens_form(tokens: list[str]) -> str:
    return " ".join([f for f in map(_token_form, tokens) if f])


def _strip_honorifics(tokens: list[str], into: list[str]) -> None:
    while len(tokens) > 1 and _name_key(tokens[0]) in D.HONORIFICS:
        into.append(tokens.pop(0))


def _strip_suffixes(tokens: list[str], into: list[str], keep: int) -> None:
    while len(tokens) > keep and _name_key(tokens[-1]) in D.NAME_SUFFIXES:
        into.insert(0, tokens.pop())


def _person_name(s: str) -> Standardized:
    honorifics: list[str] = []
    suffixes: list[str] = []
    kept: list[str] = []
    for p in (p.strip() for p in s.split(",")):
        if not p:
            continue
        if kept and all(_name_key(t) in D.NAME_SUFFIXES for t in p.split()):
            suffixes.extend(p.split())  # "John Smith, Jr." / "Smith, John, PhD"
        else:
            kept.append(p)
    if len(kept) == 2:  # "SMITH, JOHN A."
        given_tokens, family_tokens = kept[1].split(), kept[0].split()
        _strip_honorifics(given_tokens, honorifics)
        inner: list[str] = []
        _strip_suffixes(given_tokens, inner, 1)
        _strip_suffixes(family_tokens, inner, 1)
        suffixes[:0] = inner
        tokens = given_tokens + family_tokens
        family_start = len(given_tokens)
    else:
        tokens = " ".join(kept).split()
        _strip_honorifics(tokens, honorifics)
        # Keep two tokens so "John V" stays a name rather than "John" + suffix.
        _strip_suffixes(tokens, suffixes, 2)
        family_start = len(tokens) - 1
        # "Ludwig van Beethoven": particles belong to the family name.
        while family_start > 1 and _name_key(tokens[family_start - 1]) in D.FAMILY_PARTICLES:
            family_start -= 1

    fix_case = _needs_case_fix(s)
    shown = []
    for t in (_smart_title(" ".join(tokens)).split(" ") if fix_case else tokens):
        key = t.rstrip(".")
        if len(key) == 1 and key.isalpha():
            t = key.upper() + "."  # initials: "John A Smith" -> "John A. Smith"
        shown.append(t)
    display = [_HONORIFIC_DISPLAY.get(_name_key(h), _smart_title(h) if fix_case else h)
               for h in honorifics]
    display += shown
    display += [_SUFFIX_DISPLAY.get(_name_key(x), x.upper() if fix_case else x) for x in suffixes]

    given = _token_form(tokens[0]) if len(tokens) > 1 else None
    return _ok(" ".join(display), {
        "given": given,
        "family": _tokens_form(tokens[family_start:]),
        "normalized": _tokens_form(tokens),
    })


# --------------------------------------------------------------------------- #
# address_line
# --------------------------------------------------------------------------- #

_ADDR_DROP = str.maketrans({".": "", "'": "", "’": "", '"': "", ",": " ", ";": " ", ":": " ",
                            "(": " ", ")": " ", "!": " ", "?": " ", "*": " "})
_POBOX_RE = re.compile(
    r"^(?:P\s?O\s?BOX|P\s?O\s?BX|P\s?O\s?B|POST\s+OFFICE\s+BOX|POST\s+BOX|BOX)"
    r"(?:\s+(?:#\s*)?|\s*#\s*)(?:NO\s+)?([A-Z0-9-]*\d[A-Z0-9-]*)\b\s*"
)
_HOUSE_NUMBER_RE = re.compile(r"^\d+[A-Z]?(?:-\d*[A-Z0-9]+)?$")
_FRACTION_RE = re.compile(r"^\d/\d$")
_ORDINAL_RE = re.compile(r"^(\d+)(?:ST|ND|RD|TH)$")
_STREET_WORDS = {**D.DIRECTIONALS, **D.STREET_SUFFIXES, **D.ORDINAL_WORDS}


def _unit_id(token: str) -> bool:
    return any(c.isdigit() for c in token) or (len(token) == 1 and token.isalpha())


def _address_line(s: str) -> Standardized:
    up = s.upper().translate(_ADDR_DROP)
    up = " ".join(up.replace("#", " # ").split())
    number = None
    street: list[str] = []
    units: list[str] = []

    m = _POBOX_RE.match(up)
    if m:
        street = ["PO", "BOX", m.group(1)]
        up = up[m.end():]
    tokens = up.split()
    i, n = 0, len(tokens)
    if not street and n > 1 and _HOUSE_NUMBER_RE.match(tokens[0]):
        number = tokens[0]
        i = 1
        if n > 2 and _FRACTION_RE.match(tokens[1]):  # "123 1/2 Main St"
            number += " " + tokens[1]
            i = 2
    while i < n:
        t = tokens[i]
        nxt = tokens[i + 1] if i + 1 < n else None
        if t == "#":
            # A bare "#" is a unit whose designator was left out. In B2B data
            # that is a suite almost every time, and mapping it to STE lets
            # "Suite 200" and "#200" agree; after an explicit designator the
            # "#" is just noise ("APT # 5").
            if nxt is not None:
                if units and units[-1] in D.UNIT_DESIGNATORS.values():
                    units[-1] += " " + nxt
                else:
                    units.append("STE " + nxt)
                i += 2
                continue
            i += 1
            continue
        designator = D.UNIT_DESIGNATORS.get(t)
        if designator is not None and nxt is not None and (nxt == "#" or _unit_id(nxt)):
            if nxt == "#":
                units.append(designator)  # the number follows the "#"
                i += 1
            else:
                units.append(f"{designator} {nxt}")
                i += 2
            continue
        om = _ORDINAL_RE.match(t)
        if om and nxt in ("FL", "FLOOR", "FLR"):  # "3rd Floor" -> "FL 3"
            units.append("FL " + om.group(1))
            i += 2
            continue
        bare = D.UNIT_DESIGNATORS_BARE.get(t)
        if bare is not None and nxt is None and street:
            units.append(bare)
            i += 1
            continue
        street.append(_STREET_WORDS.get(t, t))
        i += 1

    street_s = " ".join(street)
    unit_s = " ".join(units)
    value = " ".join(x for x in (number, street_s, unit_s) if x)
    if not value:
        value = up
    fold = _fold_upper
    return _ok(value, {
        "number": fold(number) if number else None,
        "street": fold(street_s) if street_s else None,
        "unit": fold(unit_s) if unit_s else None,
    })


def _fold_upper(s: str) -> str:
    return s if s.isascii() else ascii_fold(s).upper()


# --------------------------------------------------------------------------- #
# city, region, postcode, country
# --------------------------------------------------------------------------- #

def _city(s: str) -> Standardized:
    # The value keeps the source's spelling ("St. Louis" stays "St. Louis",
    # "ST LOUIS" becomes "St Louis"): expanding to "Saint Louis" in the value
    # would put words in the source's mouth. The match form expands instead.
    value = _smart_title(s) if _needs_case_fix(s) else s
    tokens = [D.CITY_ABBREVIATIONS.get(t, t) for t in _match_form(s).split()]
    return _ok(value, {"normalized": " ".join(tokens)})


def _lookup_key(s: str) -> str:
    return " ".join(_match_form(s.replace("&", " and ")).split())


@lru_cache(maxsize=1)
def _us_ca_region_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for table in (D.US_STATES, D.CA_PROVINCES):
        for code, name in table.items():
            index[code.lower()] = code
            index[_lookup_key(name)] = code
    index.update(D.REGION_ALIASES)
    return index


@lru_cache(maxsize=256)
def _subdivision_index(country: str) -> dict[str, str]:
    import pycountry

    index: dict[str, str] = {}
    for sub in pycountry.subdivisions.get(country_code=country) or ():
        short = sub.code.split("-", 1)[1]
        index[short.lower()] = short
        index[sub.code.lower().replace("-", " ")] = short
        index.setdefault(_lookup_key(sub.name), short)
    return index


def _region(s: str, country: str | None) -> Standardized:
    key = _lookup_key(s)
    if country is None or country in D.US_CA_COUNTRIES:
        code = _us_ca_region_index().get(key)
    else:
        code = _subdivision_index(country).get(key)
    # Unknown regions are not an error: many countries have no usable list and
    # the raw spelling is still worth keeping for stewards.
    return _ok(code or s.upper())


_US_ZIP_COUNTRIES = frozenset({"US", "PR", "GU", "VI", "AS", "MP", "UM"})
_US_ZIP_RE = re.compile(r"(\d{5})(?:\s*-\s*|\s)?(\d{4})?", re.ASCII)
_CA_POST_RE = re.compile(r"[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z]\d[ABCEGHJ-NPRSTV-Z]\d")
_GB_POST_RE = re.compile(r"GIR0AA|[A-PR-UWYZ][A-HK-Y]?\d[A-Z\d]?\d[ABD-HJLNP-UW-Z]{2}")


def _postcode(s: str, country: str | None) -> Standardized:
    if country in _US_ZIP_COUNTRIES:
        m = _US_ZIP_RE.fullmatch(s)
        if m is None and s.isdigit() and len(s) in (3, 4):
            # Spreadsheets store ZIPs as numbers and drop leading zeros
            # (Boston 02134 -> 2134); no real ZIP has fewer than 5 digits.
            m = _US_ZIP_RE.fullmatch(s.zfill(5))
        if m is None or m.group(1) == "00000":
            return _invalid("invalid_postcode", "US ZIP code", s)
        zip5, plus4 = m.groups()
        return _ok(f"{zip5}-{plus4}" if plus4 else zip5, {"zip5": zip5})
    compact = s.upper().replace(" ", "").replace("-", "")
    if country == "CA":
        if not _CA_POST_RE.fullmatch(compact):
            return _invalid("invalid_postcode", "Canadian postal code", s)
        return _ok(f"{compact[:3]} {compact[3:]}")
    if country == "GB":
        if not _GB_POST_RE.fullmatch(compact):
            return _invalid("invalid_postcode", "UK postcode", s)
        return _ok(f"{compact[:-3]} {compact[-3:]}")
    return _ok(s.upper())


@lru_cache(maxsize=1)
def _country_index() -> dict[str, str]:
    import pycountry

    index: dict[str, str] = {}
    for c in pycountry.countries:
        index[c.alpha_2.lower()] = c.alpha_2
        index[c.alpha_3.lower()] = c.alpha_2
        index[c.numeric] = c.alpha_2
        for attr in ("name", "common_name", "official_name"):
            name = getattr(c, attr, None)
            if name:
                index.setdefault(_lookup_key(name), c.alpha_2)
    index.update(D.COUNTRY_ALIASES)
    return index


def _country(s: str) -> Standardized:
    key = _lookup_key(s)
    index = _country_index()
    code = index.get(key)
    if code is None and key.startswith("the "):
        code = index.get(key[4:])
    if code is None:
        return _invalid("invalid_country", "country", s)
    return _ok(code)


# --------------------------------------------------------------------------- #
# phone
# --------------------------------------------------------------------------- #

# Most phone numbers in a North-American distributor's data are plain NANP
# numbers. For those we build the PhoneNumber ourselves instead of running
# phonenumbers.parse (about 12 µs); validity is still phonenumbers' call.
_NANP_RE = re.compile(
    r"(?:\+?1[\s.\-]*)?\(?([2-9]\d\d)\)?[\s.\-]*([2-9]\d\d)[\s.\-]*(\d{4})"
    r"(?:\s*[,;]?\s*(?:x|ext\.?|extension|#)\s*(\d{1,7}))?",
    re.IGNORECASE,
)
_NANP_REGIONS = frozenset(phonenumbers.region_codes_for_country_code(1))
_TAIL_DIGITS_RE = re.compile(r"\\d\{(\d+)(?:,\d*)?\}$")


def _top_level_alternatives(pattern: str) -> list[str]:
    parts, depth, start, i, in_class = [], 0, 0, 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            parts.append(pattern[start:i])
            start = i + 1
        i += 1
    parts.append(pattern[start:])
    return parts


def _free_tail_digits(region: str) -> int:
    r"""How many trailing digits no pattern of ``region`` constrains.

    Every alternative of every number pattern ending in ``\d{n}`` means the
    validity of a 10-digit number is decided by its first ``10 - n`` digits,
    so it can be memoised per prefix. Computed from the installed metadata, so
    a phonenumbers release that constrains more digits shrinks the shortcut
    instead of making it wrong.
    """
    from phonenumbers.phonemetadata import PhoneMetadata

    metadata = PhoneMetadata.metadata_for_region(region)
    if metadata is None:
        return 0
    free = 10
    for name in ("general_desc", "fixed_line", "mobile", "toll_free", "premium_rate",
                 "shared_cost", "personal_number", "voip", "pager", "uan", "voicemail"):
        desc = getattr(metadata, name, None)
        pattern = desc.national_number_pattern if desc is not None else None
        if not pattern:
            continue
        for alternative in _top_level_alternatives(pattern):
            m = _TAIL_DIGITS_RE.search(alternative)
            free = min(free, int(m.group(1)) if m else 0)
    return free


_NANP_FREE_TAIL = {region: _free_tail_digits(region) for region in _NANP_REGIONS}
_NANP_ANY_FREE_TAIL = min(_NANP_FREE_TAIL.values())


@lru_cache(maxsize=65536)
def _nanp_valid_in_region(region: str, prefix: str) -> bool:
    num = PhoneNumber(country_code=1, national_number=int(prefix.ljust(10, "0")))
    return phonenumbers.is_valid_number_for_region(num, region)


@lru_cache(maxsize=65536)
def _nanp_valid_anywhere(prefix: str) -> bool:
    num = PhoneNumber(country_code=1, national_number=int(prefix.ljust(10, "0")))
    return phonenumbers.is_valid_number(num)


def _nanp_valid(region: str | None, national: str) -> bool:
    # Most numbers belong to the source's own region: check that first, with
    # its (usually long) free tail, then any NANP region.
    if region is not None and _nanp_valid_in_region(
            region, national[:10 - _NANP_FREE_TAIL[region]]):
        return True
    return _nanp_valid_anywhere(national[:10 - _NANP_ANY_FREE_TAIL])


@lru_cache(maxsize=32768)
def _phone(s: str, region: str | None, fallback: str | None) -> Standardized:
    if region in _NANP_REGIONS or (region is None and s.startswith("+1")):
        m = _NANP_RE.fullmatch(s)
        if m is not None:
            national = m.group(1) + m.group(2) + m.group(3)
            if _nanp_valid(region if region in _NANP_REGIONS else None, national):
                return _ok("+1" + national, {"national": national, "extension": m.group(4)})
    for reg in (region, fallback) if fallback and fallback != region else (region,):
        try:
            num = phonenumbers.parse(s, reg)
        except phonenumbers.NumberParseException:
            continue
        # Only is_valid_number: is_possible_number accepts any digit string of
        # the right length ("555-1234" as +1 5551234 ...). The 555-01XX
        # fictional range that realistic demo data uses *is* valid in the
        # metadata, so nothing is lost.
        if phonenumbers.is_valid_number(num):
            return _ok(phonenumbers.format_number(num, PhoneNumberFormat.E164), {
                "national": phonenumbers.national_significant_number(num),
                "extension": num.extension,
            })
    return _invalid("invalid_phone", "phone number", s)


# --------------------------------------------------------------------------- #
# email, url
# --------------------------------------------------------------------------- #

_EMAIL_RE = re.compile(
    r"(?P<local>[\w!#$%&'*+/=?^`{|}~-]+(?:\.[\w!#$%&'*+/=?^`{|}~-]+)*)"
    r"@(?P<domain>(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+(?:[^\W\d_]{2,63}|xn--[a-z0-9-]{1,59}))"
)
_ANGLE_RE = re.compile(r"<([^<>]*)>")


def _email(s: str) -> Standardized:
    e = s.lower()
    m = _ANGLE_RE.search(e)
    if m:  # "Jane Doe <jane@acme.com>"
        e = m.group(1).strip()
    if e.startswith("mailto:"):
        e = e[7:].split("?", 1)[0].strip()
    m = _EMAIL_RE.fullmatch(e)
    if m is None or len(m.group("local")) > 64:
        return _invalid("invalid_email", "email address", s)
    return _ok(e, {"local": m.group("local"), "domain": m.group("domain")})


_SCHEME_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.\-]*://")
# "mailto:", "tel:", "javascript:" ... but not "acme.com:8080".
_OTHER_SCHEME_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.\-]*:(?!//|\d)")
_HOST_RE = re.compile(
    r"(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+[^\W\d_]{2,63}|localhost|\d{1,3}(?:\.\d{1,3}){3}"
)
_DEFAULT_PORTS = {"http": 80, "https": 443}


_SIMPLE_URL_RE = re.compile(r"(?:(https?)://)?([a-z0-9.\-]+)(/[^?#]*)?", re.IGNORECASE)
_ASCII_HOST_RE = re.compile(r"(?:[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")


def _url(s: str) -> Standardized:
    m = _SIMPLE_URL_RE.fullmatch(s)
    if m is not None:  # the common "www.acme.com/path" shape, without urlsplit
        host = m.group(2).lower().rstrip(".")
        if _ASCII_HOST_RE.fullmatch(host):
            scheme = (m.group(1) or "https").lower()
            path = m.group(3) or ""
            if path == "/":
                path = ""
            return _ok(f"{scheme}://{host}{path}",
                       {"domain": host.removeprefix("www.")})
    if " " in s or _OTHER_SCHEME_RE.match(s):
        return _invalid("invalid_url", "URL", s)
    u = s
    if u.startswith("//"):
        u = "https:" + u
    elif not _SCHEME_RE.match(u):
        u = "https://" + u
    try:
        parts = urlsplit(u)
        port = parts.port
    except ValueError:
        return _invalid("invalid_url", "URL", s)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if scheme not in _DEFAULT_PORTS or not _HOST_RE.fullmatch(host):
        return _invalid("invalid_url", "URL", s)
    # Credentials in a URL have no business in master data; the port stays
    # only when it is not the scheme's default.
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = parts.path
    if path == "/" and not parts.query and not parts.fragment:
        path = ""
    value = urlunsplit((scheme, netloc, path, parts.query, parts.fragment))
    return _ok(value, {"domain": host.removeprefix("www.")})


# --------------------------------------------------------------------------- #
# tax_id
# --------------------------------------------------------------------------- #

_TAX_STRIP_RE = re.compile(r"[\s\-./]")
_EIN_RE = re.compile(r"\d{2}-?\d{7}")
_SSN_SHAPE_RE = re.compile(r"\d{3}[- ]\d{2}[- ]\d{4}")


@lru_cache(maxsize=256)
def _vat_module(cc: str):
    try:
        return get_cc_module(cc.lower(), "vat")
    except Exception:  # noqa: BLE001 - stdnum raises ImportError/ValueError variably
        return None


@lru_cache(maxsize=128)
def _ein_prefix_ok(prefix: str) -> bool:
    # stdnum's EIN check is "known IRS campus prefix" plus format; the prefix
    # lookup is the slow part, so memoise it per two-digit prefix.
    return us_ein.is_valid(prefix + "0000000")


def _us_tax_id(cleaned: str, digits: str) -> Standardized | None:
    if len(digits) != 9 or not digits.isdigit():
        return None
    # The way the number is written says which kind it is ("12-3456789" is an
    # EIN, "123-45-6789" an SSN/ITIN); only a bare 9-digit string may be either.
    ssn_shaped = bool(_SSN_SHAPE_RE.fullmatch(cleaned))
    if not ssn_shaped and _ein_prefix_ok(digits[:2]):
        return _ok(f"{digits[:2]}-{digits[2:]}", {"compact": "US:" + digits, "scheme": "us_ein"})
    if not ssn_shaped and not cleaned.isdigit():
        return None
    for scheme, module in (("us_itin", us_itin), ("us_ssn", us_ssn)):
        if module.is_valid(digits):
            return _ok(f"{digits[:3]}-{digits[3:5]}-{digits[5:]}",
                       {"compact": "US:" + digits, "scheme": scheme})
    return None


def _vat(cc: str, compact: str) -> Standardized | None:
    module = _vat_module(cc)
    if module is None:
        return None
    try:
        number = module.validate(compact)
    except Exception:  # noqa: BLE001 - stdnum.exceptions.ValidationError and friends
        return None
    if cc in D.VAT_PREFIXED_COUNTRIES:
        prefix = D.COUNTRY_TO_VAT_PREFIX.get(cc, cc)
        if not number.startswith(prefix):
            number = prefix + number
    return _ok(number, {"compact": "VAT:" + number, "scheme": "vat"})


def _tax_id(s: str, country: str | None) -> Standardized:
    compact = _TAX_STRIP_RE.sub("", s).upper()
    if not compact.isalnum() or not compact.isascii():
        return _invalid("invalid_tax_id", "tax ID", s)
    prefix = compact[:2]
    has_prefix = prefix.isalpha() and len(compact) > 4
    if has_prefix:
        if prefix == "US":
            result = _us_tax_id(s[2:].strip(), compact[2:])
        else:
            result = _vat(D.VAT_PREFIX_TO_COUNTRY.get(prefix, prefix), compact)
        if result is not None:
            return result
    if country == "US":
        result = _us_tax_id(s, compact)
    elif country is not None and _vat_module(country) is not None:
        result = _vat(country, compact)
    else:
        result = None
        if not has_prefix or _vat_module(D.VAT_PREFIX_TO_COUNTRY.get(prefix, prefix)) is None:
            # Nothing to check against: keep it, marked as unverified, rather
            # than drop a number a steward can still use.
            return _ok(s.upper(), {"compact": "RAW:" + compact, "scheme": "unverified"})
    if result is None:
        return _invalid("invalid_tax_id", "tax ID", s)
    return result


# --------------------------------------------------------------------------- #
# gtin, mpn, uom, code, reference, text
# --------------------------------------------------------------------------- #

_GTIN_STRIP_RE = re.compile(r"[\s\-]")


def _gtin(s: str) -> Standardized:
    digits = _GTIN_STRIP_RE.sub("", s)
    # 8..14 digits: spreadsheets drop the leading zeros of UPC-A/EAN-13, and
    # left zero-padding never changes a GTIN check digit.
    if not (digits.isdigit() and digits.isascii() and 8 <= len(digits) <= 14):
        return _invalid("invalid_gtin", "GTIN", s)
    gtin14 = digits.zfill(14)
    total = sum(int(c) * (3 if i % 2 == 0 else 1) for i, c in enumerate(gtin14[:13]))
    if (10 - total % 10) % 10 != int(gtin14[13]):
        return _invalid("invalid_gtin", "GTIN (check digit)", s)
    return _ok(gtin14)


_MPN_COMPACT_RE = re.compile(r"[^A-Z0-9]+")


def _mpn(s: str) -> Standardized:
    value = s.upper()
    return _ok(value, {"compact": _MPN_COMPACT_RE.sub("", ascii_fold(value).upper())})


def _uom(s: str) -> Standardized:
    key = s.lower().rstrip(".")
    code = D.UOM_SYNONYMS.get(key) or D.UOM_SYNONYMS.get(" ".join(key.replace(".", " ").split()))
    if code is None:
        return _invalid("invalid_uom", "unit of measure", s)
    return _ok(code)


def _code(s: str) -> Standardized:
    # "compact" lets "NET 30" and "NET30" agree without changing the value.
    value = s.upper()
    return _ok(value, {"compact": _MPN_COMPACT_RE.sub("", ascii_fold(value).upper())})


def _reference(s: str) -> Standardized:
    return _ok(s)


def _text(s: str) -> Standardized:
    return _ok(s, {"normalized": _match_form(s, join_periods=False)})


# --------------------------------------------------------------------------- #
# currency, money, decimal, integer, boolean
# --------------------------------------------------------------------------- #

@lru_cache(maxsize=1)
def _currency_index() -> tuple[frozenset[str], dict[str, str]]:
    import pycountry

    codes = frozenset(c.alpha_3 for c in pycountry.currencies)
    names = {_lookup_key(c.name): c.alpha_3 for c in pycountry.currencies}
    names.update(D.CURRENCY_ALIASES)
    return codes, names


def _currency_code(token: str, country: str | None) -> str | None:
    codes, names = _currency_index()
    up = token.upper()
    if up in codes:
        return up
    if token == "$":
        return D.DOLLAR_COUNTRIES.get(country or "", "USD")
    low = token.lower()
    code = D.CURRENCY_SYMBOLS.get(low)
    if code is None:
        code = names.get(_lookup_key(token))
    return code


def _currency(s: str, country: str | None) -> Standardized:
    code = _currency_code(s, country)
    if code is None:
        return _invalid("invalid_currency", "currency", s)
    return _ok(code)


_MONEY_RE = re.compile(
    r"(?P<pre>[^\d\s.,+\-−()]*)\s*(?P<sign>[-+−]?)\s*(?P<pre2>[^\d\s.,+\-−()]*)\s*"
    r"(?P<num>[\d.,][\d\s.,'’]*)\s*(?P<post>[^\d\s.,+\-−()]*)\s*(?P<tsign>-?)"
)
_SCI_RE = re.compile(r"[-+]?\d+(?:\.\d+)?[eE][-+]?\d{1,3}")
_GROUPED_RE = {sep: re.compile(rf"\d{{1,3}}(?:{re.escape(sep)}\d{{3}})+(?:[.,]\d+)?")
               for sep in (",", ".")}
_PLAIN_NUMBER_RE = re.compile(r"\d+(?:\.\d+)?", re.ASCII)
_US_GROUPED_RE = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", re.ASCII)
_TWO_PLACES = Decimal("0.01")
_MAX_ADJUSTED = 18  # beyond 10^18 a "number" in master data is a data error


def _parse_number(num: str) -> Decimal | None:
    """Parse digits with thousands/decimal separators; the last separator decides."""
    if _PLAIN_NUMBER_RE.fullmatch(num):
        return Decimal(num)
    if _US_GROUPED_RE.fullmatch(num):
        return Decimal(num.replace(",", ""))
    num = num.replace(" ", "").replace("'", "").replace("’", "")
    if not num or not any(c.isdigit() for c in num):
        return None
    commas, dots = num.count(","), num.count(".")
    if commas and dots:
        decimal_sep = "," if num.rfind(",") > num.rfind(".") else "."
        thousands = "." if decimal_sep == "," else ","
        if num.count(decimal_sep) > 1 or not _GROUPED_RE[thousands].fullmatch(
                num.replace(decimal_sep, "," if decimal_sep == "." else ".")):
            return None
        num = num.replace(thousands, "").replace(decimal_sep, ".")
    elif commas:
        # One comma followed by exactly three digits is a thousands separator
        # ("1,234"); any other single comma is a decimal comma ("12,5").
        if commas == 1 and len(num) - num.rfind(",") - 1 != 3:
            num = num.replace(",", ".")
        elif _GROUPED_RE[","].fullmatch(num):
            num = num.replace(",", "")
        else:
            return None
    elif dots > 1:
        if not _GROUPED_RE["."].fullmatch(num):
            return None
        num = num.replace(".", "")
    # A lone dot is always a decimal point: "1.234" is read as 1.234 because
    # a US-centred hub sees far more of those than German thousands.
    if num.startswith("."):
        num = "0" + num
    num = num.removesuffix(".")
    if not num.replace(".", "", 1).isdigit() or not num.isascii():
        return None
    try:
        return Decimal(num)
    except InvalidOperation:
        return None


def _number_in_range(d: Decimal) -> bool:
    return d.is_finite() and (d == 0 or d.adjusted() <= _MAX_ADJUSTED)


def _to_decimal(raw: Any) -> Decimal | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, float):
        return Decimal(repr(raw)) if math.isfinite(raw) else None
    if isinstance(raw, int):
        return Decimal(raw)
    if isinstance(raw, Decimal):
        return raw if raw.is_finite() else None
    return None


def _plain(d: Decimal) -> str:
    return format(d, "f")


def _money_decimal(d: Decimal) -> str:
    # At least two places ("12" -> "12.00"); more only when the source gave
    # more ("0.125" stays "0.125"), so unit prices are never rounded here.
    if d.as_tuple()[2] > -2:  # type: ignore[operator]
        d = d.quantize(_TWO_PLACES)
    if d == 0:
        d = abs(d)
    return _plain(d)


_SIMPLE_MONEY_RE = re.compile(r"(\$|USD ?)?(\d{1,3}(?:,\d{3})+|\d{1,15})(?:\.(\d{1,6}))?",
                              re.ASCII)


def _simple_money(s: str, ctx: Context) -> Standardized | None:
    """"$12,500.00", "12500", "USD 25,000": string arithmetic, no Decimal needed."""
    m = _SIMPLE_MONEY_RE.fullmatch(s)
    if m is None:
        return None
    symbol, whole, frac = m.groups()
    whole = whole.replace(",", "").lstrip("0") or "0"
    if len(whole) > _MAX_ADJUSTED:
        return None  # let the general path reject it
    frac = (frac or "").ljust(2, "0")
    currency = None
    if symbol:
        currency = "USD" if symbol[0] == "U" else \
            D.DOLLAR_COUNTRIES.get(_country_of(ctx) or "", "USD")
    return _ok(f"{whole}.{frac}", {"currency": currency})


def _money_value(raw: Any, ctx: Context, max_length: int) -> Standardized:
    if type(raw) is str and len(raw) <= 32 and len(raw) <= max_length:
        result = _simple_money(raw, ctx)
        if result is not None:
            return result
    d = _to_decimal(raw)
    if d is not None:
        if not _number_in_range(d):
            return _invalid("invalid_money", "amount", str(raw))
        return _ok(_money_decimal(d))
    s = _prep(raw, max_length)
    if type(s) is not str:
        return s
    negative = False
    body = s
    if body.startswith("(") and body.endswith(")"):  # accounting negative
        negative, body = True, body[1:-1].strip()
    m = _MONEY_RE.fullmatch(body.replace("\u2212", "-"))
    if m is None:
        return _invalid("invalid_money", "amount", s)
    symbols = [x for x in (m["pre"], m["pre2"], m["post"]) if x]
    currency = None
    if symbols:
        country = _country_of(ctx)
        codes = [_currency_code(sym, country) for sym in symbols]
        if None in codes or len(codes) > 2:
            return _invalid("invalid_money", "amount", s)
        # "$12 CAD": an explicit code beats the bare dollar sign.
        explicit = {c for sym, c in zip(symbols, codes) if sym != "$"}
        if len(explicit) > 1:
            return _invalid("invalid_money", "amount", s)
        currency = explicit.pop() if explicit else codes[0]
    d = _parse_number(m["num"])
    if d is None or not _number_in_range(d) or (m["sign"] and m["tsign"]):
        return _invalid("invalid_money", "amount", s)
    if negative or m["sign"] in ("-", "−") or m["tsign"]:
        d = -d
    return _ok(_money_decimal(d), {"currency": currency})


def _decimal_of(raw: Any, max_length: int) -> Decimal | Standardized:
    d = _to_decimal(raw)
    if d is not None:
        return d
    if isinstance(raw, bool):
        return Standardized(None, _NO_PARTS, f"{raw!r} is not a number", "invalid_type")
    s = _prep(raw, max_length)
    if type(s) is not str:
        return s
    body = s.replace("\u2212", "-")
    negative = False
    if body.startswith("(") and body.endswith(")"):
        negative, body = True, body[1:-1].strip()
    if _SCI_RE.fullmatch(body):  # Excel exports large numbers as 1.2E+15
        d = Decimal(body)
    else:
        sign = body[:1]
        if sign in ("-", "+"):
            body = body[1:].lstrip()
            negative = negative or sign == "-"
        elif body.endswith("-"):
            body, negative = body[:-1].rstrip(), True
        d = _parse_number(body) if body[:1].isdigit() or body[:1] == "." else None
    if d is None or not _number_in_range(d):
        return Standardized(None, _NO_PARTS, f"{_preview(s)} is not a valid number", "invalid")
    return -d if negative else d


def _decimal_value(raw: Any, ctx: Context, max_length: int) -> Standardized:
    d = _decimal_of(raw, max_length)
    if isinstance(d, Standardized):
        if d.code in ("invalid", "invalid_type"):
            return Standardized(None, _NO_PARTS, d.issue, "invalid_decimal")
        return d
    if not _number_in_range(d):
        return _invalid("invalid_decimal", "number", str(raw))
    d = d.normalize()
    if d == 0:
        d = Decimal(0)
    return _ok(_plain(d))


_INT_LIMIT = 2**63


def _integer_value(raw: Any, ctx: Context, max_length: int) -> Standardized:
    d = _decimal_of(raw, max_length)
    if isinstance(d, Standardized):
        if d.code in ("invalid", "invalid_type"):
            return Standardized(None, _NO_PARTS, d.issue, "invalid_integer")
        return d
    if d != d.to_integral_value() or abs(d) >= _INT_LIMIT:
        return _invalid("invalid_integer", "whole number", str(raw))
    return _ok(int(d))


_TRUE = frozenset({"y", "yes", "1", "true", "t"})
_FALSE = frozenset({"n", "no", "0", "false", "f"})


def _boolean(s: str) -> Standardized:
    low = s.lower()
    if low in _TRUE:
        return _ok(True)
    if low in _FALSE:
        return _ok(False)
    return _invalid("invalid_boolean", "yes/no value", s)


def _boolean_value(raw: Any, ctx: Context, max_length: int) -> Standardized:
    if isinstance(raw, bool):
        return _ok(raw)
    if isinstance(raw, int) and raw in (0, 1):
        return _ok(bool(raw))
    if type(raw) is str and len(raw) <= 32:
        return _boolean_cached(raw, max_length)
    s = _prep(raw, max_length)
    return _boolean(s) if type(s) is str else s


@lru_cache(maxsize=256)
def _boolean_cached(raw: str, max_length: int) -> Standardized:
    s = _prep(raw, max_length)
    return _boolean(s) if type(s) is str else s


# --------------------------------------------------------------------------- #
# date, datetime
# --------------------------------------------------------------------------- #

_ISO_DATE_RE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ].*)?")
_YMD_SLASH_RE = re.compile(r"(\d{4})[/.](\d{1,2})[/.](\d{1,2})")
_COMPACT_DATE_RE = re.compile(r"(\d{4})(\d{2})(\d{2})")
_NUMERIC_DATE_RE = re.compile(r"(\d{1,2})([/.\-])(\d{1,2})\2(\d{4}|\d{2})(?:[ T].*)?")
_DEFAULT_A = datetime(2000, 1, 1)
_DEFAULT_B = datetime(2001, 2, 2)
_TZINFOS = {name: offset * 3600 for name, offset in {
    "UTC": 0, "GMT": 0, "Z": 0, "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7,
    "MDT": -6, "PST": -8, "PDT": -7, "CET": 1, "CEST": 2, "BST": 1,
}.items()}


def _two_digit_year(yy: int) -> int:
    # Pivot ten years ahead of today: "12/31/29" is a contract end date, not 1929.
    pivot = (date.today().year + 10) % 100
    return 2000 + yy if yy <= pivot else 1900 + yy


def _numeric_date(s: str, dayfirst: bool) -> date | None:
    m = _ISO_DATE_RE.fullmatch(s) or _YMD_SLASH_RE.fullmatch(s) or _COMPACT_DATE_RE.fullmatch(s)
    if m:
        return date(int(m[1]), int(m[2]), int(m[3]))
    m = _NUMERIC_DATE_RE.fullmatch(s)
    if m:
        a, b, year = int(m[1]), int(m[3]), int(m[4])
        if len(m[4]) == 2:
            year = _two_digit_year(year)
        # Dotted dates (31.12.2024) are day-first everywhere they are used.
        first_is_day = dayfirst or m[2] == "."
        day, month = (a, b) if first_is_day else (b, a)
        if month > 12 and day <= 12:  # unambiguous the other way round
            day, month = month, day
        return date(year, month, day)
    return None


def _parse_date(s: str, dayfirst: bool) -> date | datetime | None:
    """A ``date`` for date-only input, a ``datetime`` when dateutil found a time."""
    try:
        d = _numeric_date(s, dayfirst)
    except ValueError:  # e.g. month 13 or Feb 30
        return None
    if d is not None:
        return d
    if len(s) > 64 or not any(c.isalpha() for c in s):
        return None
    from dateutil import parser

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            a = parser.parse(s, dayfirst=dayfirst, default=_DEFAULT_A, tzinfos=_TZINFOS)
            b = parser.parse(s, dayfirst=dayfirst, default=_DEFAULT_B, tzinfos=_TZINFOS)
    except (ValueError, OverflowError, TypeError):
        return None
    # dateutil fills missing fields from `default`; parsing twice with two
    # defaults exposes "March 2024" (no day) as incomplete instead of inventing
    # a day.
    if a.date() != b.date():
        return None
    return a


def _date_value(raw: Any, ctx: Context, max_length: int) -> Standardized:
    if isinstance(raw, datetime):
        return _ok(raw.date().isoformat())
    if isinstance(raw, date):
        return _ok(raw.isoformat())
    s = _prep(raw, max_length)
    if type(s) is not str:
        return s
    d = _parse_date(s, ctx.dayfirst)
    if d is None:
        return _invalid("invalid_date", "date", s)
    if isinstance(d, datetime):
        d = d.date()
    return _ok(d.isoformat())


def _format_utc(dt: datetime) -> str:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)  # naive means UTC by convention
    else:
        dt = dt.astimezone(UTC)
    text = dt.replace(tzinfo=None).isoformat(timespec="microseconds" if dt.microsecond
                                             else "seconds")
    return text + "Z"


def _datetime_value(raw: Any, ctx: Context, max_length: int) -> Standardized:
    if isinstance(raw, datetime):
        try:
            return _ok(_format_utc(raw))
        except (OverflowError, ValueError):
            return _invalid("invalid_datetime", "date/time", str(raw))
    if isinstance(raw, date):
        return _ok(raw.isoformat() + "T00:00:00Z")
    s = _prep(raw, max_length)
    if type(s) is not str:
        return s
    try:
        dt: Any = datetime.fromisoformat(s)
    except ValueError:
        dt = None
    if dt is None:
        if any(c.isalpha() for c in s) or " " in s or ":" in s:
            dt = _parse_datetime_fallback(s, ctx.dayfirst)
        else:
            try:
                dt = _numeric_date(s, ctx.dayfirst)
            except ValueError:
                dt = None
        if isinstance(dt, date) and not isinstance(dt, datetime):
            dt = datetime(dt.year, dt.month, dt.day)
    if dt is None:
        return _invalid("invalid_datetime", "date/time", s)
    try:
        return _ok(_format_utc(dt))
    except (OverflowError, ValueError):
        return _invalid("invalid_datetime", "date/time", s)


def _parse_datetime_fallback(s: str, dayfirst: bool) -> datetime | None:
    head = s.split(" ", 1)[0]
    try:
        d = _numeric_date(head, dayfirst)
    except ValueError:
        return None
    if d is not None and " " in s:
        # "03/04/2024 10:15 AM": our day/month rules for the date, dateutil for the time.
        from dateutil import parser

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t = parser.parse(s.split(" ", 1)[1], default=_DEFAULT_A, tzinfos=_TZINFOS)
        except (ValueError, OverflowError, TypeError):
            return None
        return t.replace(year=d.year, month=d.month, day=d.day)
    if len(s) > 64:
        return None
    from dateutil import parser

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            a = parser.parse(s, dayfirst=dayfirst, default=_DEFAULT_A, tzinfos=_TZINFOS)
            b = parser.parse(s, dayfirst=dayfirst, default=_DEFAULT_B, tzinfos=_TZINFOS)
    except (ValueError, OverflowError, TypeError):
        return None
    if a.date() != b.date():
        return None
    return a


# --------------------------------------------------------------------------- #
# Dispatch
# --------------------------------------------------------------------------- #

Handler = Callable[[Any, Context, int], Standardized]


def _country_of(ctx: Context) -> str | None:
    country = ctx.country or ctx.default_region
    return country.upper() if country else None


def _simple(fn: Callable[[str], Standardized]) -> Handler:
    def handler(raw: Any, ctx: Context, max_length: int) -> Standardized:
        s = _prep(raw, max_length)
        return fn(s) if type(s) is str else s
    return handler


def _memo(fn: Callable[[str], Standardized], maxsize: int = 16384) -> Handler:
    """For low-cardinality types: memoise on the raw string itself."""
    @lru_cache(maxsize=maxsize)
    def cached(raw: str, max_length: int) -> Standardized:
        s = _prep(raw, max_length)
        return fn(s) if type(s) is str else s

    def handler(raw: Any, ctx: Context, max_length: int) -> Standardized:
        if type(raw) is str and len(raw) <= 256:
            return cached(raw, max_length)
        s = _prep(raw, max_length)
        return fn(s) if type(s) is str else s

    _CACHES.append(cached)
    return handler


def _memo_country(fn: Callable[[str, str | None], Standardized], maxsize: int = 16384) -> Handler:
    """Like _memo, for types whose meaning depends on the record's country."""
    @lru_cache(maxsize=maxsize)
    def cached(raw: str, country: str | None, max_length: int) -> Standardized:
        s = _prep(raw, max_length)
        return fn(s, country) if type(s) is str else s

    def handler(raw: Any, ctx: Context, max_length: int) -> Standardized:
        country = _country_of(ctx)
        if type(raw) is str and len(raw) <= 256:
            return cached(raw, country, max_length)
        s = _prep(raw, max_length)
        return fn(s, country) if type(s) is str else s

    _CACHES.append(cached)
    return handler


def _with_country(fn: Callable[[str, str | None], Standardized]) -> Handler:
    def handler(raw: Any, ctx: Context, max_length: int) -> Standardized:
        s = _prep(raw, max_length)
        return fn(s, _country_of(ctx)) if type(s) is str else s
    return handler


def _phone_handler(raw: Any, ctx: Context, max_length: int) -> Standardized:
    s = _prep(raw, max_length)
    if type(s) is not str:
        return s
    region = _country_of(ctx)
    fallback = ctx.default_region.upper() if ctx.country and ctx.default_region else None
    return _phone(s, region, fallback)


_CACHES: list[Any] = [
    _phone, _legal_display, _nanp_valid_in_region, _nanp_valid_anywhere, _title_token,
    _legal_key, _core_token, _name_key, _token_form,
]

_HANDLERS: dict[str, Handler] = {
    "company_name": _simple(_company_name),
    "person_name": _simple(_person_name),
    "address_line": _simple(_address_line),
    "city": _memo(_city),
    "region": _memo_country(_region),
    "postcode": _memo_country(_postcode, maxsize=65536),
    "country": _memo(_country),
    "phone": _phone_handler,
    "email": _simple(_email),
    "tax_id": _with_country(_tax_id),
    "gtin": _simple(_gtin),
    "mpn": _simple(_mpn),
    "uom": _memo(_uom, maxsize=1024),
    "currency": _memo_country(_currency, maxsize=1024),
    "money": _money_value,
    "decimal": _decimal_value,
    "integer": _integer_value,
    "boolean": _boolean_value,
    "date": _date_value,
    "datetime": _datetime_value,
    "text": _simple(_text),
    "code": _memo(_code),
    "url": _simple(_url),
    "reference": _simple(_reference),
}
assert set(_HANDLERS) == ATTRIBUTE_TYPES


def clear_caches() -> None:
    """Forget memoised results (tests, or after changing lookup tables at runtime)."""
    for cache in _CACHES:
        cache.cache_clear()


# --------------------------------------------------------------------------- #
# Public functions
# --------------------------------------------------------------------------- #

def standardize_value(attr_type: str, raw: Any, context: Context | None = None, *,
                      max_length: int | None = None) -> Standardized:
    """Standardize one raw value of the given attribute type.

    >>> standardize_value("uom", "Pieces").value
    'EA'
    >>> standardize_value("email", "not-an-email").code
    'invalid_email'
    >>> standardize_value("postcode", "2134", Context(default_region="US")).value
    '02134'
    """
    handler = _HANDLERS.get(attr_type)
    if handler is None:
        raise ValueError(f"unknown attribute type {attr_type!r}")
    if max_length is None:
        max_length = DEFAULT_MAX_LENGTH[attr_type]
    return handler(raw, context or _NO_CONTEXT, max_length)


def _issue_value(raw: Any) -> Any:
    text = raw if type(raw) is str else str(raw)
    return text[:200]


def standardize_record(specs: Sequence[AttributeSpec], raw: Mapping[str, Any],
                       context: Context | None = None) -> RecordResult:
    """Standardize every attribute of one source record.

    The ``country`` attribute goes first so that phone numbers, postcodes,
    regions and tax IDs are read with the record's own country. Keys of
    ``raw`` without a spec are ignored.

    >>> specs = [AttributeSpec("email", "email", required=True)]
    >>> r = standardize_record(specs, {"email": "nope"})
    >>> r.attributes, r.issues[0]["code"], r.missing_required
    ({}, 'invalid_email', ['email'])
    """
    ctx = context or _NO_CONTEXT
    attributes: dict[str, Any] = {}
    issues: list[dict] = []
    missing: list[str] = []

    ordered: Sequence[AttributeSpec] = specs
    country_spec = None
    for i, spec in enumerate(specs):
        if spec.type == "country":
            country_spec = spec
            if i:
                ordered = [spec, *specs[:i], *specs[i + 1:]]
            break

    handlers = _HANDLERS
    defaults = DEFAULT_MAX_LENGTH
    get = raw.get
    for spec in ordered:
        name = spec.name
        value_raw = get(name)
        handler = handlers.get(spec.type)
        if handler is None:
            raise ValueError(f"unknown attribute type {spec.type!r} for {name!r}")
        max_length = spec.max_length
        result = handler(value_raw, ctx, defaults[spec.type] if max_length is None else max_length)
        value = result.value
        if value is not None:
            attributes[name] = value
            for part, part_value in result.parts.items():
                if part_value is not None:
                    attributes[f"{name}__{part}"] = part_value
            if spec is country_spec and value != ctx.country:
                ctx = Context(ctx.default_region, value, ctx.dayfirst)
        else:
            if result.code is not None:
                issues.append({"attribute": name, "code": result.code,
                               "message": result.issue, "value": _issue_value(value_raw)})
            if spec.required:
                missing.append(name)
    return RecordResult(attributes, issues, missing)
