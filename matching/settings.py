"""Declarative match settings: plain dataclasses that round-trip to dict/YAML.

The hub stores these in an entity type's YAML (``matching:`` section); the
engine compiles them. Nothing here computes anything: it only describes
*what* to compare, *how* to block, and *which* thresholds decide.

Example::

    >>> s = MatchSettings.from_dict({
    ...     "comparisons": [{"name": "name", "template": "company_name", "attribute": "name"}],
    ...     "blocking": {"passes": [{"name": "nm", "keys": [{"attribute": "name__core"}]}]},
    ... })
    >>> MatchSettings.from_dict(s.to_dict()) == s
    True

Every validation error is a :class:`SettingsError` whose ``path`` names the bad
key relative to the ``matching`` section (``comparisons[2].levels[1].threshold``)
so the config loader can point at the YAML line.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

__all__ = [
    "CHECKS",
    "FEATURE_KINDS",
    "METHODS",
    "TRANSFORMS",
    "BlockingPass",
    "BlockingSettings",
    "ClusterSettings",
    "Comparison",
    "Condition",
    "FeatureSpec",
    "KeyPart",
    "Level",
    "MatchSettings",
    "PairRule",
    "PriorSettings",
    "SettingsError",
    "Thresholds",
    "TrainingSettings",
]


class SettingsError(ValueError):
    """A bad match setting; ``path`` is relative to the ``matching`` section."""

    def __init__(self, path: str, message: str):
        self.path = path
        self.message = message
        super().__init__(f"{path or '(matching)'}: {message}")


# --------------------------------------------------------------------------- #
# Vocabulary
# --------------------------------------------------------------------------- #

# method -> (value kind, threshold kind). Threshold kinds: None (no threshold),
# "unit" (0..1 similarity), "count" (non-negative integer), "positive" (>= 0 real),
# "optional_count" (integer, defaulted).
METHODS: dict[str, tuple[str, str | None]] = {
    "null": ("any", None),          # either side missing
    "else": ("any", None),          # everything not caught by an earlier level
    "exact": ("str", None),         # equal (optionally both passing `check`)
    "different": ("str", None),     # both present and unequal (optionally both valid)
    "jaro_winkler": ("str", "unit"),
    "jaro": ("str", "unit"),
    "ratio": ("str", "unit"),           # normalised Indel similarity
    "token_set": ("str", "unit"),
    "token_sort": ("str", "unit"),
    "partial_ratio": ("str", "unit"),
    "abbreviation": ("str", "unit"),         # share of words written in full or abbreviated in the other
    "levenshtein": ("str", "count"),          # distance <= threshold
    "damerau_levenshtein": ("str", "count"),  # distance <= threshold
    "prefix": ("str", "count"),               # first N characters equal
    "suffix_of": ("str", "count"),            # one value ends with the other (at least N characters)
    "abs_diff": ("num", "positive"),          # |a - b| <= threshold
    "rel_diff": ("num", "positive"),          # |a - b| / max(|a|, |b|) <= threshold
    "days": ("date", "positive"),             # |date a - date b| in days <= threshold
    "overlap": ("set", "optional_count"),     # at least N shared elements (default 1)
    "jaccard": ("set", "unit"),
    "weighted_jaccard": ("set", "unit"),      # Jaccard with rare elements weighing more (IDF)
    "contains": ("set", "optional_count"),    # an element of one side contains one of the other (min length N, default 4)
}

SIMILARITY_METHODS = frozenset(m for m, (_, t) in METHODS.items() if t == "unit" and METHODS[m][0] == "str")

# Blocking key transforms. Multi-valued ones yield several keys per record.
TRANSFORMS = {
    "value": False, "lower": False, "first_token": False, "last_token": False,
    "metaphone": False, "soundex": False, "nysiis": False, "digits": False,
    "sorted_tokens": False, "alnum": False,
    "tokens": True, "qgrams": True,
}
# Transforms taking an integer argument written ``prefix:3``.
TRANSFORMS_WITH_ARG = {"prefix": False, "suffix": False, "first_tokens": False, "qgrams": True,
                       "min_length": False}

FEATURE_KINDS = frozenset({"model_numbers", "model_bases", "tokens", "first_token", "colors"})
CHECKS = frozenset({"gtin", "tax_id", "luhn"})
LINK_TYPES = frozenset({"dedupe_and_link", "link_only", "dedupe_only"})
LINKAGES = frozenset({"average", "complete", "single"})

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,59}$")
_ATTR_RE = re.compile(r"^[a-z][a-z0-9_]*$")


# --------------------------------------------------------------------------- #
# Small validation helpers (every one raises with a path)
# --------------------------------------------------------------------------- #

def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _mapping(value: Any, path: str, allowed: Iterable[str], required: Iterable[str] = ()) -> Mapping:
    if not isinstance(value, Mapping):
        raise SettingsError(path, f"expected a mapping, got {type(value).__name__}")
    allowed = set(allowed)
    for key in value:
        if key not in allowed:
            raise SettingsError(_join(path, str(key)), f"unknown key (expected one of {', '.join(sorted(allowed))})")
    for key in required:
        if key not in value or value[key] is None:
            raise SettingsError(_join(path, key), "required")
    return value


def _list(value: Any, path: str, *, allow_empty: bool = True) -> list:
    if value is None:
        value = []
    if not isinstance(value, (list, tuple)):
        raise SettingsError(path, f"expected a list, got {type(value).__name__}")
    if not allow_empty and not value:
        raise SettingsError(path, "must not be empty")
    return list(value)


def _str(value: Any, path: str, *, pattern: re.Pattern | None = None, what: str = "a string") -> str:
    if not isinstance(value, str) or not value:
        raise SettingsError(path, f"expected {what}")
    if pattern is not None and not pattern.match(value):
        raise SettingsError(path, f"expected {what}, got {value!r}")
    return value


def _num(value: Any, path: str, *, lo: float | None = None, hi: float | None = None,
         integer: bool = False) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SettingsError(path, "expected a number")
    if integer and not float(value).is_integer():
        raise SettingsError(path, "expected a whole number")
    if isinstance(value, float) and not math.isfinite(value):
        raise SettingsError(path, "expected a finite number")
    if lo is not None and value < lo:
        raise SettingsError(path, f"must be >= {lo}")
    if hi is not None and value > hi:
        raise SettingsError(path, f"must be <= {hi}")
    return int(value) if integer else float(value)


def _bool(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise SettingsError(path, "expected true or false")
    return value


def _attr(value: Any, path: str) -> str:
    return _str(value, path, pattern=_ATTR_RE, what="an attribute name such as 'name' or 'name__core'")


def _drop_defaults(obj: Any, data: dict) -> dict:
    """Omit keys equal to their dataclass default, so dumped YAML stays short."""
    default = type(obj)()
    out = {}
    for key, value in data.items():
        dv = getattr(default, key)
        if value == dv or (isinstance(dv, tuple) and value == list(dv)):
            continue
        out[key] = value
    return out


# --------------------------------------------------------------------------- #
# Comparisons
# --------------------------------------------------------------------------- #

@dataclass(frozen=True)
class Condition:
    """One test on one attribute of a pair: ``jaro_winkler(name__core) >= 0.9``.

    ``attribute`` may be omitted inside a comparison (it then defaults to the
    comparison's attribute). ``check`` (gtin, tax_id, luhn) restricts ``exact``
    and ``different`` to values that pass the check digit test.
    """

    method: str
    attribute: str | None = None
    threshold: float | None = None
    check: str | None = None

    @classmethod
    def from_dict(cls, d: Any, path: str = "", default_attribute: str | None = None) -> Condition:
        _mapping(d, path, ("method", "attribute", "threshold", "check"), ("method",))
        method = d["method"]
        if method not in METHODS:
            raise SettingsError(_join(path, "method"),
                                f"unknown method {method!r} (expected one of {', '.join(sorted(METHODS))})")
        attribute = d.get("attribute", default_attribute)
        if attribute is not None:
            attribute = _attr(attribute, _join(path, "attribute"))
        elif method != "else":
            raise SettingsError(_join(path, "attribute"), "required (no comparison attribute to default to)")
        kind = METHODS[method][1]
        threshold = d.get("threshold")
        tpath = _join(path, "threshold")
        if kind is None:
            if threshold is not None:
                raise SettingsError(tpath, f"method {method!r} takes no threshold")
        elif threshold is None:
            if kind != "optional_count":
                raise SettingsError(tpath, f"required for method {method!r}")
        elif kind == "unit":
            threshold = _num(threshold, tpath, lo=0.0, hi=1.0)
        elif kind in ("count", "optional_count"):
            threshold = _num(threshold, tpath, lo=0 if method != "prefix" else 1, integer=True)
        else:
            threshold = _num(threshold, tpath, lo=0.0)
        check = d.get("check")
        if check is not None:
            if check not in CHECKS:
                raise SettingsError(_join(path, "check"), f"unknown check {check!r} (expected one of {', '.join(sorted(CHECKS))})")
            if method not in ("exact", "different"):
                raise SettingsError(_join(path, "check"), "only exact and different take a check")
        return cls(method=method, attribute=attribute, threshold=threshold, check=check)

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"method": self.method}
        if self.attribute is not None:
            out["attribute"] = self.attribute
        if self.threshold is not None:
            out["threshold"] = self.threshold
        if self.check is not None:
            out["check"] = self.check
        return out


@dataclass(frozen=True)
class Level:
    """One ordered level of a comparison; the first level whose conditions all hold wins.

    ``tf_adjust`` applies term-frequency adjustment: an agreement on a common
    value (a frequent city, "smith") weighs less than one on a rare value.
    """

    label: str
    conditions: tuple[Condition, ...]
    tf_adjust: bool = False

    @property
    def is_null(self) -> bool:
        return len(self.conditions) == 1 and self.conditions[0].method == "null"

    @property
    def is_else(self) -> bool:
        return len(self.conditions) == 1 and self.conditions[0].method == "else"

    @classmethod
    def from_dict(cls, d: Any, path: str, default_attribute: str | None) -> Level:
        if not isinstance(d, Mapping):
            raise SettingsError(path, "expected a mapping with label and method (or all)")
        if "all" in d:
            _mapping(d, path, ("label", "all", "tf_adjust"))
            items = _list(d["all"], _join(path, "all"), allow_empty=False)
            conditions = tuple(Condition.from_dict(c, _join(_join(path, "all"), i), default_attribute)
                               for i, c in enumerate(items))
            for i, c in enumerate(conditions):
                if c.method in ("null", "else"):
                    raise SettingsError(_join(_join(_join(path, "all"), i), "method"),
                                        f"{c.method!r} cannot be combined with other conditions")
        else:
            _mapping(d, path, ("label", "method", "attribute", "threshold", "check", "tf_adjust"), ("method",))
            cond = {k: d[k] for k in ("method", "attribute", "threshold", "check") if k in d}
            conditions = (Condition.from_dict(cond, path, default_attribute),)
        label = d.get("label")
        if label is None:
            c = conditions[0]
            label = c.method if c.threshold is None else f"{c.method}>={c.threshold:g}" if METHODS[c.method][1] == "unit" else f"{c.method}<={c.threshold:g}"
        label = _str(label, _join(path, "label"), what="a label")
        tf_adjust = _bool(d.get("tf_adjust", False), _join(path, "tf_adjust"))
        if tf_adjust and conditions[0].method in ("null", "else", "different"):
            raise SettingsError(_join(path, "tf_adjust"), "term-frequency adjustment needs an agreeing level")
        return cls(label=label, conditions=conditions, tf_adjust=tf_adjust)

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"label": self.label}
        if len(self.conditions) == 1:
            out.update(self.conditions[0].to_dict())
        else:
            out["all"] = [c.to_dict() for c in self.conditions]
        if self.tf_adjust:
            out["tf_adjust"] = True
        return out

    @property
    def tf_attribute(self) -> str | None:
        return self.conditions[0].attribute if self.tf_adjust else None


@dataclass(frozen=True)
class Comparison:
    """A named comparison with ordered levels (null first, else last).

    Written either with explicit ``levels`` or with a ``template`` named after
    the attribute type (``company_name``, ``address_line``, ``phone``, ...),
    which :mod:`matching.comparisons` expands into levels.

    ``tf_weight`` scales the term-frequency adjustment (0 disables it);
    ``tf_min`` floors the frequency used, so an ultra-rare value cannot add
    unbounded weight.
    """

    name: str
    attribute: str
    levels: tuple[Level, ...]
    tf_weight: float = 1.0
    tf_min: float = 0.0

    @classmethod
    def from_dict(cls, d: Any, path: str = "") -> Comparison:
        _mapping(d, path, ("name", "attribute", "levels", "template", "options", "tf_weight", "tf_min"),
                 ("name", "attribute"))
        name = _str(d["name"], _join(path, "name"), pattern=_NAME_RE, what="a lower-case identifier")
        attribute = _attr(d["attribute"], _join(path, "attribute"))
        if "template" in d and "levels" in d:
            raise SettingsError(_join(path, "levels"), "give either template or levels, not both")
        if "template" in d:
            from matching.comparisons import TEMPLATES

            template = d["template"]
            if template not in TEMPLATES:
                raise SettingsError(_join(path, "template"),
                                    f"unknown template {template!r} (expected one of {', '.join(sorted(TEMPLATES))})")
            options = d.get("options") or {}
            if not isinstance(options, Mapping):
                raise SettingsError(_join(path, "options"), "expected a mapping")
            try:
                raw_levels = TEMPLATES[template](attribute, **options)
            except TypeError as exc:
                raise SettingsError(_join(path, "options"), str(exc)) from None
            lpath = _join(path, "template")
        else:
            if "options" in d:
                raise SettingsError(_join(path, "options"), "options only apply to a template")
            raw_levels = _list(d.get("levels"), _join(path, "levels"), allow_empty=False)
            lpath = _join(path, "levels")
        levels = tuple(Level.from_dict(lv, _join(lpath, i) if "levels" in d else lpath, attribute)
                       for i, lv in enumerate(raw_levels))
        if len(levels) < 2:
            raise SettingsError(lpath, "a comparison needs at least two levels (e.g. exact and else)")
        labels = [lv.label for lv in levels]
        for i, lab in enumerate(labels):
            if labels.index(lab) != i:
                raise SettingsError(_join(_join(lpath, i), "label"), f"duplicate level label {lab!r}")
        if not levels[-1].is_else:
            raise SettingsError(_join(lpath, len(levels) - 1), "the last level must be method: else")
        for i, lv in enumerate(levels):
            if lv.is_else and i != len(levels) - 1:
                raise SettingsError(_join(lpath, i), "only the last level may be method: else")
            if lv.is_null and i != 0:
                raise SettingsError(_join(lpath, i), "the null level must come first")
        tf_weight = _num(d.get("tf_weight", 1.0), _join(path, "tf_weight"), lo=0.0, hi=1.0)
        tf_min = _num(d.get("tf_min", 0.0), _join(path, "tf_min"), lo=0.0, hi=1.0)
        return cls(name=name, attribute=attribute, levels=levels, tf_weight=tf_weight, tf_min=tf_min)

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"name": self.name, "attribute": self.attribute,
                               "levels": [lv.to_dict() for lv in self.levels]}
        if self.tf_weight != 1.0:
            out["tf_weight"] = self.tf_weight
        if self.tf_min != 0.0:
            out["tf_min"] = self.tf_min
        return out

    @property
    def labels(self) -> list[str]:
        return [lv.label for lv in self.levels]

    def attributes(self) -> set[str]:
        return {c.attribute for lv in self.levels for c in lv.conditions if c.attribute}


# --------------------------------------------------------------------------- #
# Derived features
# --------------------------------------------------------------------------- #

@dataclass(frozen=True)
class FeatureSpec:
    """A derived attribute computed per record by a pure function of others.

    ``model_numbers`` pulls part/model numbers out of free text ("Sony
    Turntable - PSLX350H") as a set of normalised codes; ``model_bases``
    the same codes with colour/region suffixes cut ("srsa212bk" -> "srsa212");
    ``tokens`` a set of words; ``first_token`` the first word of the first
    non-empty source (e.g. a brand guessed from a product title); ``colors``
    the colour words (folded: "graphite" -> "gray").
    """

    name: str
    kind: str
    sources: tuple[str, ...]

    @classmethod
    def from_dict(cls, d: Any, path: str = "") -> FeatureSpec:
        _mapping(d, path, ("name", "kind", "from"), ("name", "kind", "from"))
        name = _attr(d["name"], _join(path, "name"))
        if d["kind"] not in FEATURE_KINDS:
            raise SettingsError(_join(path, "kind"), f"unknown kind {d['kind']!r} (expected one of {', '.join(sorted(FEATURE_KINDS))})")
        src = d["from"]
        src = [src] if isinstance(src, str) else _list(src, _join(path, "from"), allow_empty=False)
        sources = tuple(_attr(s, _join(_join(path, "from"), i)) for i, s in enumerate(src))
        return cls(name=name, kind=d["kind"], sources=sources)

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "from": list(self.sources)}


# --------------------------------------------------------------------------- #
# Deterministic rules
# --------------------------------------------------------------------------- #

@dataclass(frozen=True)
class PairRule:
    """A deterministic rule on a pair: all ``when`` conditions and ``levels`` hold, no ``unless`` condition does.

    With a ``weight`` (log2 Bayes factor) it is evidence added beside the
    trained comparisons, e.g. same valid tax ID +6, two different valid tax
    IDs -12. Without a weight (under ``prior.rules``) it only serves to
    estimate the prior: the share of pairs that are surely matches.
    ``levels`` maps a comparison name to the level labels allowed.
    ``within_source: false`` (prior rules only) leaves out the rule's hits
    between two records of one source: a model code shared inside one
    catalog marks a variant of a product family far more often than a
    duplicate, while the same GTIN twice in one item master is one.
    """

    name: str
    when: tuple[Condition, ...] = ()
    levels: tuple[tuple[str, tuple[str, ...]], ...] = ()
    weight: float | None = None
    unless: tuple[Condition, ...] = ()
    within_source: bool = True

    @classmethod
    def from_dict(cls, d: Any, path: str, *, weighted: bool) -> PairRule:
        keys = ("name", "when", "levels", "unless", "weight") if weighted else ("name", "when", "levels", "unless",
                                                                                "within_source")
        _mapping(d, path, keys, ("name", "weight") if weighted else ("name",))
        name = _str(d["name"], _join(path, "name"), pattern=_NAME_RE, what="a lower-case identifier")
        when_raw = d.get("when") or []
        if isinstance(when_raw, Mapping):
            when_raw = [when_raw]
        when = tuple(Condition.from_dict(c, _join(_join(path, "when"), i))
                     for i, c in enumerate(_list(when_raw, _join(path, "when"))))
        for i, c in enumerate(when):
            if c.method in ("null", "else"):
                raise SettingsError(_join(_join(_join(path, "when"), i), "method"), f"{c.method!r} is not a rule test")
        unless_raw = d.get("unless") or []
        if isinstance(unless_raw, Mapping):
            unless_raw = [unless_raw]
        unless = tuple(Condition.from_dict(c, _join(_join(path, "unless"), i))
                       for i, c in enumerate(_list(unless_raw, _join(path, "unless"))))
        for i, c in enumerate(unless):
            if c.method in ("null", "else"):
                raise SettingsError(_join(_join(_join(path, "unless"), i), "method"), f"{c.method!r} is not a rule test")
        levels_raw = d.get("levels") or {}
        if not isinstance(levels_raw, Mapping):
            raise SettingsError(_join(path, "levels"), "expected a mapping of comparison name to level labels")
        levels = []
        for comp, labels in levels_raw.items():
            lp = _join(_join(path, "levels"), str(comp))
            labels = [labels] if isinstance(labels, str) else _list(labels, lp, allow_empty=False)
            levels.append((str(comp), tuple(_str(x, lp, what="a level label") for x in labels)))
        if not when and not levels:
            raise SettingsError(path, "a rule needs at least one condition under when or levels")
        weight = None
        if weighted:
            weight = _num(d["weight"], _join(path, "weight"), lo=-60, hi=60)
        within = d.get("within_source", True)
        if not isinstance(within, bool):
            raise SettingsError(_join(path, "within_source"), "expected true or false")
        return cls(name=name, when=when, levels=tuple(levels), weight=weight, unless=unless, within_source=within)

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"name": self.name}
        if self.when:
            out["when"] = [c.to_dict() for c in self.when]
        if self.levels:
            out["levels"] = {k: list(v) for k, v in self.levels}
        if self.unless:
            out["unless"] = [c.to_dict() for c in self.unless]
        if self.weight is not None:
            out["weight"] = self.weight
        if not self.within_source:
            out["within_source"] = False
        return out


# --------------------------------------------------------------------------- #
# Blocking
# --------------------------------------------------------------------------- #

@dataclass(frozen=True)
class KeyPart:
    """One part of a blocking key: an attribute passed through transforms.

    Transforms apply left to right: ``[first_token, metaphone]``. ``tokens``
    and ``qgrams:3`` yield several keys per record.
    """

    attribute: str
    transforms: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, d: Any, path: str = "") -> KeyPart:
        if isinstance(d, str):
            d = {"attribute": d}
        _mapping(d, path, ("attribute", "transform"), ("attribute",))
        attribute = _attr(d["attribute"], _join(path, "attribute"))
        raw = d.get("transform") or []
        raw = [raw] if isinstance(raw, str) else _list(raw, _join(path, "transform"))
        out = []
        for i, t in enumerate(raw):
            tp = _join(_join(path, "transform"), i) if len(raw) > 1 or isinstance(d.get("transform"), list) else _join(path, "transform")
            if not isinstance(t, str):
                raise SettingsError(tp, "expected a transform name")
            name, _, arg = t.partition(":")
            if name in TRANSFORMS and not arg:
                out.append(name)
            elif name in TRANSFORMS_WITH_ARG and arg.isdigit() and int(arg) >= 1:
                out.append(f"{name}:{int(arg)}")
            else:
                known = sorted(TRANSFORMS) + [f"{k}:N" for k in sorted(TRANSFORMS_WITH_ARG)]
                raise SettingsError(tp, f"unknown transform {t!r} (expected one of {', '.join(known)})")
        return cls(attribute=attribute, transforms=tuple(out))

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"attribute": self.attribute}
        if self.transforms:
            out["transform"] = list(self.transforms)
        return out

    @property
    def multi_valued(self) -> bool:
        return any(TRANSFORMS.get(t.partition(":")[0]) or TRANSFORMS_WITH_ARG.get(t.partition(":")[0])
                   for t in self.transforms)


@dataclass(frozen=True)
class BlockingPass:
    """One blocking pass: records sharing a key value become candidate pairs.

    ``fixes`` lists the comparisons held fixed when training m on this pass's
    pairs (all its pairs agree on the key, so they tell nothing about those
    comparisons); by default the comparisons on the same base attributes.
    ``train: false`` keeps the pass out of EM training.
    """

    name: str
    keys: tuple[KeyPart, ...]
    fixes: tuple[str, ...] | None = None
    train: bool = True
    max_block_size: int | None = None

    @classmethod
    def from_dict(cls, d: Any, path: str = "") -> BlockingPass:
        _mapping(d, path, ("name", "keys", "fixes", "train", "max_block_size"), ("name", "keys"))
        name = _str(d["name"], _join(path, "name"), pattern=_NAME_RE, what="a lower-case identifier")
        keys = tuple(KeyPart.from_dict(k, _join(_join(path, "keys"), i))
                     for i, k in enumerate(_list(d["keys"], _join(path, "keys"), allow_empty=False)))
        fixes = None
        if d.get("fixes") is not None:
            fixes = tuple(_str(x, _join(_join(path, "fixes"), i), what="a comparison name")
                          for i, x in enumerate(_list(d["fixes"], _join(path, "fixes"))))
        train = _bool(d.get("train", True), _join(path, "train"))
        mbs = d.get("max_block_size")
        if mbs is not None:
            mbs = _num(mbs, _join(path, "max_block_size"), lo=2, integer=True)
        return cls(name=name, keys=keys, fixes=fixes, train=train, max_block_size=mbs)

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"name": self.name, "keys": [k.to_dict() for k in self.keys]}
        if self.fixes is not None:
            out["fixes"] = list(self.fixes)
        if not self.train:
            out["train"] = False
        if self.max_block_size is not None:
            out["max_block_size"] = self.max_block_size
        return out


@dataclass(frozen=True)
class BlockingSettings:
    """Blocking passes; a key shared by more than ``max_block_size`` records is skipped."""

    passes: tuple[BlockingPass, ...] = ()
    max_block_size: int = 100

    @classmethod
    def from_dict(cls, d: Any, path: str = "") -> BlockingSettings:
        _mapping(d, path, ("passes", "max_block_size"), ("passes",))
        passes = tuple(BlockingPass.from_dict(p, _join(_join(path, "passes"), i))
                       for i, p in enumerate(_list(d["passes"], _join(path, "passes"), allow_empty=False)))
        names = [p.name for p in passes]
        for i, n in enumerate(names):
            if names.index(n) != i:
                raise SettingsError(_join(_join(_join(path, "passes"), i), "name"), f"duplicate pass name {n!r}")
        mbs = _num(d.get("max_block_size", 100), _join(path, "max_block_size"), lo=2, integer=True)
        return cls(passes=passes, max_block_size=mbs)

    def to_dict(self) -> dict:
        return {"max_block_size": self.max_block_size, "passes": [p.to_dict() for p in self.passes]}


# --------------------------------------------------------------------------- #
# Prior, training, thresholds, clustering
# --------------------------------------------------------------------------- #

@dataclass(frozen=True)
class PriorSettings:
    """How to set lambda, the prior probability that two random records match.

    ``probability`` fixes it. Otherwise deterministic ``rules`` (pairs that
    are surely matches) are counted among the candidate pairs and divided by
    ``recall`` (the share of all true matches those rules are believed to
    catch) and by the number of possible pairs. With no rule hits the engine
    falls back to the largest EM estimate over the blocking passes.
    """

    rules: tuple[PairRule, ...] = ()
    recall: float = 0.7
    probability: float | None = None

    @classmethod
    def from_dict(cls, d: Any, path: str = "") -> PriorSettings:
        _mapping(d, path, ("rules", "recall", "probability"))
        rules = tuple(PairRule.from_dict(r, _join(_join(path, "rules"), i), weighted=False)
                      for i, r in enumerate(_list(d.get("rules"), _join(path, "rules"))))
        recall = _num(d.get("recall", 0.7), _join(path, "recall"), lo=1e-6, hi=1.0)
        prob = d.get("probability")
        if prob is not None:
            prob = _num(prob, _join(path, "probability"), lo=1e-12, hi=0.5)
        return cls(rules=rules, recall=recall, probability=prob)

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"recall": self.recall}
        if self.rules:
            out["rules"] = [r.to_dict() for r in self.rules]
        if self.probability is not None:
            out["probability"] = self.probability
        return out


@dataclass(frozen=True)
class TrainingSettings:
    """Unsupervised training knobs.

    ``u_sample_pairs`` random pairs estimate u; EM runs on each training pass
    (``passes``, default every pass with ``train: true``), at most
    ``max_pairs_per_pass`` pairs each. ``tf_table_size`` caps how many of the
    most frequent values per attribute the stored model keeps.
    """

    u_sample_pairs: int = 300_000
    max_pairs_per_pass: int = 2_000_000
    em_max_iterations: int = 40
    em_tolerance: float = 1e-4
    passes: tuple[str, ...] | None = None
    tf_table_size: int = 5000
    seed: int = 42

    @classmethod
    def from_dict(cls, d: Any, path: str = "") -> TrainingSettings:
        keys = [f.name for f in fields(cls)]
        _mapping(d, path, keys)
        kw: dict[str, Any] = {}
        for key in ("u_sample_pairs", "max_pairs_per_pass", "em_max_iterations", "tf_table_size", "seed"):
            if key in d:
                kw[key] = _num(d[key], _join(path, key), lo=0 if key == "seed" else 1, integer=True)
        if "em_tolerance" in d:
            kw["em_tolerance"] = _num(d["em_tolerance"], _join(path, "em_tolerance"), lo=1e-12, hi=0.5)
        if d.get("passes") is not None:
            kw["passes"] = tuple(_str(x, _join(_join(path, "passes"), i), what="a blocking pass name")
                                 for i, x in enumerate(_list(d["passes"], _join(path, "passes"))))
        return cls(**kw)

    def to_dict(self) -> dict:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        if data["passes"] is not None:
            data["passes"] = list(data["passes"])
        return _drop_defaults(self, data)


@dataclass(frozen=True)
class Thresholds:
    """Decision bands on match probability.

    ``auto``: link without asking. ``review``: below ``auto`` but at least
    this is a possible match for a steward. ``merge``: the (higher) linkage
    needed to merge two existing multi-record clusters automatically; below
    it, a record pulling two clusters together only yields a merge proposal.
    """

    auto: float = 0.95
    review: float = 0.6
    merge: float = 0.995

    @classmethod
    def from_dict(cls, d: Any, path: str = "") -> Thresholds:
        _mapping(d, path, ("auto", "review", "merge"))
        auto = _num(d.get("auto", 0.95), _join(path, "auto"), lo=0.0, hi=1.0)
        review = _num(d.get("review", min(0.6, auto)), _join(path, "review"), lo=0.0, hi=1.0)
        merge = _num(d.get("merge", max(0.995, auto)), _join(path, "merge"), lo=0.0, hi=1.0)
        if review > auto:
            raise SettingsError(_join(path, "review"), "must not exceed auto")
        if merge < auto:
            raise SettingsError(_join(path, "merge"), "must not be below auto")
        return cls(auto=auto, review=review, merge=merge)

    def to_dict(self) -> dict:
        return {"auto": self.auto, "review": self.review, "merge": self.merge}


@dataclass(frozen=True)
class ClusterSettings:
    """Clustering: ``average`` linkage (default) does not chain; ``single`` is connected components.

    ``one_per_source: true`` keeps at most one record per source system in a
    cluster (each source known to be free of duplicates, e.g. catalogs);
    same-source pairs are then not even compared. ``unless_certain`` is the
    same except that two records of one source may share a cluster when their
    pair probability reaches ``thresholds.merge`` (a catalog that is *almost*
    free of duplicates: look-alike variants stay apart, a true double entry
    with the same part number and GTIN does not). Components of the
    auto-link graph up to ``full_pair_limit`` records get every pair scored
    up front; larger ones score missing pairs on demand.
    """

    linkage: str = "average"
    one_per_source: bool | str = False
    full_pair_limit: int = 200

    @classmethod
    def from_dict(cls, d: Any, path: str = "") -> ClusterSettings:
        _mapping(d, path, ("linkage", "one_per_source", "full_pair_limit"))
        linkage = d.get("linkage", "average")
        if linkage not in LINKAGES:
            raise SettingsError(_join(path, "linkage"), f"expected one of {', '.join(sorted(LINKAGES))}")
        ops = d.get("one_per_source", False)
        if ops not in (True, False, "unless_certain"):
            raise SettingsError(_join(path, "one_per_source"), "expected true, false or unless_certain")
        limit = _num(d.get("full_pair_limit", 200), _join(path, "full_pair_limit"), lo=2, integer=True)
        return cls(linkage=linkage, one_per_source=ops, full_pair_limit=limit)

    def to_dict(self) -> dict:
        return {"linkage": self.linkage, "one_per_source": self.one_per_source,
                "full_pair_limit": self.full_pair_limit}


# --------------------------------------------------------------------------- #
# The whole section
# --------------------------------------------------------------------------- #

@dataclass(frozen=True)
class MatchSettings:
    """Everything the engine needs to know about matching one entity type.

    ``link_type``: ``dedupe_and_link`` compares all pairs (default),
    ``link_only`` only pairs from different sources, ``dedupe_only`` only
    pairs within one source.
    """

    comparisons: tuple[Comparison, ...]
    blocking: BlockingSettings
    features: tuple[FeatureSpec, ...] = ()
    rules: tuple[PairRule, ...] = ()
    prior: PriorSettings = PriorSettings()
    training: TrainingSettings = TrainingSettings()
    thresholds: Thresholds = Thresholds()
    clustering: ClusterSettings = ClusterSettings()
    link_type: str = "dedupe_and_link"

    # -- construction ---------------------------------------------------------

    @classmethod
    def from_dict(cls, d: Any, path: str = "") -> MatchSettings:
        """Build and validate; raise :class:`SettingsError` with the path of the first bad key."""
        _mapping(d, path, ("link_type", "features", "comparisons", "rules", "blocking", "prior",
                           "training", "thresholds", "clustering"), ("comparisons", "blocking"))
        link_type = d.get("link_type", "dedupe_and_link")
        if link_type not in LINK_TYPES:
            raise SettingsError(_join(path, "link_type"), f"expected one of {', '.join(sorted(LINK_TYPES))}")
        features = tuple(FeatureSpec.from_dict(f, _join(_join(path, "features"), i))
                         for i, f in enumerate(_list(d.get("features"), _join(path, "features"))))
        comparisons = tuple(Comparison.from_dict(c, _join(_join(path, "comparisons"), i))
                            for i, c in enumerate(_list(d["comparisons"], _join(path, "comparisons"), allow_empty=False)))
        rules = tuple(PairRule.from_dict(r, _join(_join(path, "rules"), i), weighted=True)
                      for i, r in enumerate(_list(d.get("rules"), _join(path, "rules"))))
        blocking = BlockingSettings.from_dict(d["blocking"], _join(path, "blocking"))
        prior = PriorSettings.from_dict(d.get("prior") or {}, _join(path, "prior"))
        training = TrainingSettings.from_dict(d.get("training") or {}, _join(path, "training"))
        thresholds = Thresholds.from_dict(d.get("thresholds") or {}, _join(path, "thresholds"))
        clustering = ClusterSettings.from_dict(d.get("clustering") or {}, _join(path, "clustering"))
        settings = cls(comparisons=comparisons, blocking=blocking, features=features, rules=rules,
                       prior=prior, training=training, thresholds=thresholds, clustering=clustering,
                       link_type=link_type)
        settings._check_references(path)
        return settings

    def _check_references(self, path: str) -> None:
        names = [c.name for c in self.comparisons]
        for i, n in enumerate(names):
            if names.index(n) != i:
                raise SettingsError(_join(_join(_join(path, "comparisons"), i), "name"), f"duplicate comparison {n!r}")
        fnames = [f.name for f in self.features]
        for i, n in enumerate(fnames):
            if fnames.index(n) != i:
                raise SettingsError(_join(_join(_join(path, "features"), i), "name"), f"duplicate feature {n!r}")
        by_name = {c.name: c for c in self.comparisons}
        all_rules = [("rules", i, r) for i, r in enumerate(self.rules)] + \
                    [("prior.rules", i, r) for i, r in enumerate(self.prior.rules)]
        for section, i, rule in all_rules:
            rp = _join(_join(path, section), i)
            for comp, labels in rule.levels:
                lp = _join(_join(rp, "levels"), comp)
                if comp not in by_name:
                    raise SettingsError(lp, f"unknown comparison {comp!r}")
                for lab in labels:
                    if lab not in by_name[comp].labels:
                        raise SettingsError(lp, f"comparison {comp!r} has no level {lab!r} "
                                                f"(levels: {', '.join(by_name[comp].labels)})")
        rnames = [r.name for r in self.rules]
        for i, n in enumerate(rnames):
            if rnames.index(n) != i:
                raise SettingsError(_join(_join(_join(path, "rules"), i), "name"), f"duplicate rule {n!r}")
        pass_names = {p.name for p in self.blocking.passes}
        for i, p in enumerate(self.blocking.passes):
            for j, comp in enumerate(p.fixes or ()):
                if comp not in by_name:
                    raise SettingsError(_join(_join(_join(_join(path, "blocking.passes"), i), "fixes"), j),
                                        f"unknown comparison {comp!r}")
        for i, name in enumerate(self.training.passes or ()):
            if name not in pass_names:
                raise SettingsError(_join(_join(path, "training.passes"), i), f"unknown blocking pass {name!r}")

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"link_type": self.link_type}
        if self.features:
            out["features"] = [f.to_dict() for f in self.features]
        out["comparisons"] = [c.to_dict() for c in self.comparisons]
        if self.rules:
            out["rules"] = [r.to_dict() for r in self.rules]
        out["blocking"] = self.blocking.to_dict()
        out["prior"] = self.prior.to_dict()
        training = self.training.to_dict()
        if training:
            out["training"] = training
        out["thresholds"] = self.thresholds.to_dict()
        out["clustering"] = self.clustering.to_dict()
        return out

    @classmethod
    def from_yaml(cls, text: str) -> MatchSettings:
        """Parse a YAML document: either the ``matching`` section itself or a whole entity file."""
        import yaml

        data = yaml.safe_load(text)
        if isinstance(data, Mapping) and "matching" in data and "comparisons" not in data:
            return cls.from_dict(data["matching"])
        return cls.from_dict(data)

    def to_yaml(self) -> str:
        import yaml

        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)

    def fingerprint(self) -> str:
        """Short stable hash of the settings: a stored model records which settings trained it."""
        blob = json.dumps(self.to_dict(), sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def with_thresholds(self, **kw: float) -> MatchSettings:
        return replace(self, thresholds=replace(self.thresholds, **kw))

    # -- introspection for the hub --------------------------------------------

    def referenced_attributes(self) -> Iterator[tuple[str, str]]:
        """Yield ``(path, attribute)`` for every attribute read from records.

        Feature outputs are not attributes of the entity and are left out;
        their ``from`` sources are included. The hub checks that the base of
        each name (before ``__``) is a declared attribute.
        """
        produced = {f.name for f in self.features}
        for i, f in enumerate(self.features):
            for j, s in enumerate(f.sources):
                if s not in produced:
                    yield f"features[{i}].from[{j}]", s
        for i, c in enumerate(self.comparisons):
            if c.attribute not in produced:
                yield f"comparisons[{i}].attribute", c.attribute
            for j, lv in enumerate(c.levels):
                for k, cond in enumerate(lv.conditions):
                    if cond.attribute and cond.attribute not in produced and cond.attribute != c.attribute:
                        p = f"comparisons[{i}].levels[{j}]" + (f".all[{k}]" if len(lv.conditions) > 1 else "")
                        yield f"{p}.attribute", cond.attribute
        for section, rules in (("rules", self.rules), ("prior.rules", self.prior.rules)):
            for i, r in enumerate(rules):
                for key, conds in (("when", r.when), ("unless", r.unless)):
                    for j, cond in enumerate(conds):
                        if cond.attribute and cond.attribute not in produced:
                            yield f"{section}[{i}].{key}[{j}].attribute", cond.attribute
        for i, p in enumerate(self.blocking.passes):
            for j, k in enumerate(p.keys):
                if k.attribute not in produced:
                    yield f"blocking.passes[{i}].keys[{j}].attribute", k.attribute

    @property
    def cross_source_only(self) -> bool:
        """Only pairs from different sources can match: ``link_only``, or ``one_per_source``
        (each source is free of duplicates, so a same-source pair is a known non-match)."""
        return self.link_type == "link_only" or self.clustering.one_per_source is True

    def comparison(self, name: str) -> Comparison:
        for c in self.comparisons:
            if c.name == name:
                return c
        raise KeyError(name)

    def fixed_comparisons(self, blocking_pass: BlockingPass) -> tuple[str, ...]:
        """Comparisons held fixed when training on ``blocking_pass``.

        Default: every comparison reading a key attribute itself, or a
        feature of the same kind built from a superset of the key feature's
        sources (agreeing on model numbers of the name implies agreeing on
        model numbers of name + description). Other comparisons on related
        attributes (the name text when the key is the name's model numbers)
        stay free: the pass's pairs do vary on them.
        """
        if blocking_pass.fixes is not None:
            return blocking_pass.fixes
        features = {f.name: f for f in self.features}
        implied = set()
        for k in blocking_pass.keys:
            implied.add(k.attribute)
            f1 = features.get(k.attribute)
            if f1 is not None:
                for f2 in self.features:
                    if f2.kind == f1.kind and set(f1.sources) <= set(f2.sources):
                        implied.add(f2.name)
        return tuple(c.name for c in self.comparisons if c.attributes() & implied)
