"""Derived match features: pure functions of a record's attributes.

Model/part numbers are the strongest evidence for products, but they hide in
free text written differently by each source: "Sony Turntable - PSLX350H",
"Sony PS-LX350H Belt-Drive Turntable", "... SRSA212/BLK". We pull them out as
normalised codes (lower-case, separators removed) plus "bases" with colour or
region suffixes cut, so "srsa212bk" and "srsa212/blk" meet on "srsa212".

Example::

    >>> sorted(model_numbers("Sony PS-LX350H Turntable"))
    ['lx350h', 'pslx350h']
    >>> sorted(model_bases("Computer Speakers - SRSA212/BLK"))
    ['srsa212']
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Iterable, Mapping
from functools import cache, lru_cache
from typing import Any

__all__ = [
    "CHECK_FUNCTIONS",
    "colors",
    "compute_features",
    "first_token",
    "gtin_valid",
    "is_null",
    "luhn_valid",
    "model_bases",
    "model_numbers",
    "tax_id_valid",
    "tokens",
]

# Split free text into tokens; keep - / . inside a token because they join
# the pieces of a model number ("PS-LX350H", "MB470LL/A", "NS-AW390WH").
_TOKEN_SPLIT = re.compile(r"[\s,;:()\[\]{}\"!?|+*&#=<>~`]+")
_PIECE_SPLIT = re.compile(r"[-/._\\']+")
_ALNUM = re.compile(r"^[a-z0-9]+$")
_NUMBER = re.compile(r"^[\d.,']+$")
# Quantities are not model numbers: 2.4GHz, 250GB, 1080p, 52', 10ft, 5ms, 4x.
_UNIT = re.compile(
    r"^\d+(?:[.,]\d+)?(?:x\d+(?:[.,]\d+)?)?"
    r"(?:gb|mb|tb|kb|ghz|mhz|khz|hz|mm|cm|m|in|inch|inches|ft|feet|lb|lbs|oz|kg|g|w|watt|watts|v|volt|mah|ah|"
    r"p|i|k|x|ms|mp|db|dbi|rpm|bit|bits|gbps|mbps|fps|pin|port|ports|pk|pack|pc|pcs|ct|cu|mw|btu|qt|gal|"
    r"th|st|nd|rd|min|hr|hrs|sec|mph|ppm|dpi|yd|yds|ml|l|lm|nm|ma|a|c|f|d|s|hours|year|years|yr|gauge|awg|"
    r"cuft|ohm|ohms|channel|ch|way|speed|disc|disk|line|lines|page|pages|sheets|pt)$"
)
# Trailing 1-3 letters after the last digit are often colour/region suffixes:
# BK/BLK black, W/WH white, S/SL silver, B, N (gold), P (pink), LL/A (US region).
_SUFFIX = re.compile(r"^(.*\d)([a-z]{1,3})$")


def is_null(value: Any) -> bool:
    """True for None, empty/blank strings and empty collections."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (list, tuple, set, frozenset, dict)):
        return len(value) == 0
    return isinstance(value, float) and math.isnan(value)


def _code_like(code: str) -> bool:
    if len(code) < 4 or not _ALNUM.match(code):
        return False
    has_digit = any(ch.isdigit() for ch in code)
    if not has_digit:
        return False
    if code.isdigit():
        # Pure numbers are part numbers only when long (848001, 0100071520);
        # shorter ones are sizes, years and counts.
        return len(code) >= 5
    return not _UNIT.match(code)


@lru_cache(maxsize=200_000)
def _codes_of_text(text: str) -> tuple[str, ...]:
    # Empty tokens (a lone " - ") stay in the list: they break adjacency below.
    raw_tokens = [t.strip(".-/_'\\") for t in _TOKEN_SPLIT.split(text)]
    out: list[str] = []
    seen: set[str] = set()

    def add(code: str) -> None:
        if code not in seen and _code_like(code):
            seen.add(code)
            out.append(code)

    # Letter-only model numbers ("EFSATB", "MBA-CLR-SEE") are recognisable only by
    # layout: upper-case pieces joined by hyphens, or an upper-case word that is
    # the last " - " segment of a catalog title ("Speaker Stand - EFSATB").
    # In an all-capitals text (ERP and WMS descriptions) every word is upper-case,
    # so layout says nothing there: "HI-VISIBILITY" is a word, not a code.
    mixed_case = text != text.upper()
    segments = [seg.strip() for seg in text.split(" - ")]
    last = segments[-1] if len(segments) > 1 and mixed_case else ""
    if last and " " not in last and last.isalpha() and last.isupper() and len(last) >= 5:
        letters_only = last.lower()
        if letters_only not in seen:
            seen.add(letters_only)
            out.append(letters_only)
    for tok in raw_tokens:
        low = tok.lower()
        if not low or _UNIT.match(low.replace(",", ".")):
            continue
        pieces = [p for p in _PIECE_SPLIT.split(low) if p]
        if "/" in low and all(p.isdigit() for p in pieces):
            continue  # 10/100, 33-1/3: speeds and fractions, not part numbers
        joined = "".join(pieces)
        if (len(pieces) == 2 and pieces[0].isdigit() and pieces[1].isalpha() and len(pieces[1]) >= 3):
            continue  # "10-Cup", "24-Port", "3-Pack": a count and a word
        if (mixed_case and len(pieces) >= 2 and tok.isupper() and joined.isalpha() and len(joined) >= 6
                and joined not in seen):
            seen.add(joined)
            out.append(joined)
        add(joined)
        if len(pieces) > 1:
            for p in pieces:
                add(p)
    # Sources split one model number with a space ("XH A1S", "KX TG6512"): join
    # two adjacent tokens when both are written like codes (no lower-case letters).
    # Only plain alphanumeric tokens, one of them a short letter group and the other
    # mixed letters and digits: "XH A1S", "KX TG6512" yes; "USB 2.0", "BRKR 3-POLE" no.
    for a, b in itertools.pairwise(raw_tokens if mixed_case else ()):
        if not a or not b or not a.isalnum() or not b.isalnum() or a != a.upper() or b != b.upper():
            continue
        short, other = (a, b) if a.isalpha() else (b, a)
        if not (short.isalpha() and len(short) <= 3 and len(other) <= 6
                and any(ch.isalpha() for ch in other) and any(ch.isdigit() for ch in other)):
            continue
        joined = "".join(_PIECE_SPLIT.split((a + b).lower()))
        if any(ch.isalpha() for ch in joined) and any(ch.isdigit() for ch in joined):
            add(joined)
    return tuple(out)


def model_numbers(*texts: Any) -> frozenset[str]:
    """Normalised model/part numbers found in the given texts (empty set if none)."""
    codes: set[str] = set()
    for text in texts:
        if isinstance(text, str) and text:
            codes.update(_codes_of_text(text))
    return frozenset(codes)


def _base(code: str) -> str:
    m = _SUFFIX.match(code)
    if m and len(m.group(1)) >= 4 and any(ch.isalpha() for ch in m.group(1)):
        return m.group(1)
    return code


def model_bases(*texts: Any) -> frozenset[str]:
    """Model numbers with a trailing colour/region suffix cut ("dscw150n" -> "dscw150")."""
    return frozenset(_base(c) for c in model_numbers(*texts))


_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def tokens(*texts: Any) -> frozenset[str]:
    """Lower-case word tokens of the texts."""
    out: set[str] = set()
    for text in texts:
        if isinstance(text, str):
            out.update(_WORD.findall(text.lower()))
    return frozenset(out)


def first_token(*texts: Any) -> str | None:
    """First word of the first non-empty text, lower-cased (e.g. a brand guessed from a title)."""
    for text in texts:
        if isinstance(text, str):
            words = _WORD.findall(text.lower())
            if words:
                return words[0]
    return None


# Colour words: variants of one product often differ only by colour, and the
# colour is then the only evidence in the title ("... Cool Blue" vs "... Graphite Black").
COLOR_WORDS = {
    "black": "black", "blk": "black", "white": "white", "wht": "white", "silver": "silver", "gray": "gray",
    "grey": "gray", "graphite": "gray", "charcoal": "gray", "gunmetal": "gray", "red": "red", "crimson": "red",
    "burgundy": "red", "blue": "blue", "navy": "blue", "green": "green", "yellow": "yellow", "orange": "orange",
    "pink": "pink", "purple": "purple", "violet": "purple", "plum": "purple", "cyan": "cyan", "magenta": "magenta", "brown": "brown", "beige": "beige", "tan": "beige",
    "ivory": "ivory", "bisque": "ivory", "gold": "gold", "bronze": "bronze", "copper": "copper",
    "titanium": "titanium", "stainless": "stainless", "chrome": "chrome", "clear": "clear",
}


def colors(*texts: Any) -> frozenset[str]:
    """Colour words in the texts, folded to a base colour ("graphite" -> "gray")."""
    out: set[str] = set()
    for text in texts:
        if isinstance(text, str):
            for w in _WORD.findall(text.lower()):
                c = COLOR_WORDS.get(w)
                if c:
                    out.add(c)
    return frozenset(out)


FEATURE_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "colors": colors,
    "model_numbers": model_numbers,
    "model_bases": model_bases,
    "tokens": tokens,
    "first_token": first_token,
}


def compute_features(features: Iterable, attributes: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``attributes`` plus the derived features (a new dict; input untouched).

    ``features`` are :class:`matching.settings.FeatureSpec`; a feature may
    read an earlier feature.
    """
    out = dict(attributes)
    for spec in features:
        fn = FEATURE_FUNCTIONS[spec.kind]
        value = fn(*(out.get(s) for s in spec.sources))
        out[spec.name] = value if not is_null(value) else None
    return out


# --------------------------------------------------------------------------- #
# Identifier checks (check digits)
# --------------------------------------------------------------------------- #

def gtin_valid(value: Any) -> bool:
    """GTIN-8/12/13/14 with a correct mod-10 check digit."""
    s = str(value).strip() if value is not None else ""
    if not s.isdigit() or len(s) not in (8, 12, 13, 14) or set(s) == {"0"}:
        return False
    digits = [int(c) for c in s]
    body, check = digits[:-1], digits[-1]
    total = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == check


def luhn_valid(value: Any) -> bool:
    s = str(value).strip() if value is not None else ""
    if not s.isdigit() or len(s) < 2:
        return False
    total = 0
    for i, ch in enumerate(reversed(s)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


@cache
def _tax_modules(country: str) -> tuple:
    """python-stdnum modules that validate tax numbers of one country (cached: the lookup is slow)."""
    try:
        from stdnum import get_cc_module
    except ImportError:  # pragma: no cover - stdnum is a project dependency
        return ()
    out = []
    for kind in ("vat", "tin", "ein", "bn", "abn", "gst"):
        try:
            module = get_cc_module(country.lower(), kind)
        except Exception:  # noqa: BLE001 - stdnum raises various errors for unknown modules
            module = None
        if module is not None:
            out.append(module)
    return tuple(out)


@lru_cache(maxsize=1_000_000)
def tax_id_valid(value: Any) -> bool:
    """A compact tax ID as :mod:`matching.standardize` writes it, that passes its checks.

    ``"US:123456789"`` (EIN, SSN or ITIN), ``"VAT:DE136695976"`` (an EU-style
    VAT number, country prefix included) or ``"DE:136695976"``. ``"RAW:..."``
    (kept but unverified by the standardizer) is not valid: it proves nothing.
    Uses python-stdnum's per-country modules; a country without one is
    accepted on format alone.
    """
    if not isinstance(value, str) or ":" not in value:
        return False
    scheme, _, number = value.partition(":")
    if scheme == "RAW" or not number or not number.isalnum() or set(number) <= {"0"}:
        return False
    if scheme == "VAT":
        country = number[:2]
        if not country.isalpha():
            return False
    elif len(scheme) == 2 and scheme.isalpha():
        country = scheme
    else:
        return False
    modules = _tax_modules(country.upper())
    if not modules:
        return len(number) >= 5
    for module in modules:
        try:
            if module.is_valid(number) or module.is_valid(country + number):
                return True
        except Exception:  # noqa: BLE001
            continue
    return False


CHECK_FUNCTIONS: dict[str, Callable[[Any], bool]] = {
    "gtin": gtin_valid,
    "luhn": luhn_valid,
    "tax_id": tax_id_valid,
}
