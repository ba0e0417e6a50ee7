"""Entity types as declarative YAML: parse with line numbers, validate, save, dump.

One validator serves the command line (``load_entity_config``), the Django
admin form and the demo set-up, so an error reads the same everywhere:
``customer.yaml line 14, attributes[3].type: unknown type 'phnoe' (expected one of …)``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml
from django.db import transaction

from matching.standardize import ATTRIBUTE_TYPES, AttributeSpec

CODE_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
ATTR_RE = re.compile(r"^[a-z][a-z0-9_]{0,59}$")
PREFIX_RE = re.compile(r"^[A-Z]{2,5}$")
TOP_LEVEL_KEYS = {"code", "name", "id_prefix", "description", "attributes", "matching", "survivorship", "prices"}
ATTRIBUTE_KEYS = {"name", "type", "required", "label", "max_length", "references", "relationship", "help"}
RELATIONSHIPS = {"parent", "bill_to", "ship_to", "sold_to", "payer"}


@dataclass(frozen=True)
class ConfigError:
    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"line {self.line}, " if self.line else ""
        return f"{where}{self.path or '(top level)'}: {self.message}"


class EntityConfigInvalid(Exception):
    def __init__(self, errors: list[ConfigError], filename: str = ""):
        self.errors = errors
        self.filename = filename
        prefix = f"{filename}: " if filename else ""
        super().__init__("\n".join(prefix + str(e) for e in errors))


# --- YAML with line numbers ---------------------------------------------------

def _join(path: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def _line_map(node: yaml.Node, path: str = "", lines: dict[str, int] | None = None) -> dict[str, int]:
    """Map every path (``attributes[3].type``) to the 1-based line where it starts."""
    if lines is None:
        lines = {}
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            child = _join(path, key_node.value)
            lines[child] = key_node.start_mark.line + 1
            _line_map(value_node, child, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _line_map(item, _join(path, index), lines)
    return lines


def parse_yaml(text: str, filename: str = "") -> tuple[Any, dict[str, int]]:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise EntityConfigInvalid([ConfigError("", f"not valid YAML: {problem}", line)], filename) from exc
    return data, (_line_map(node) if node is not None else {})


# --- Validation ---------------------------------------------------------------

def validate_entity_config(data: Any) -> list[ConfigError]:
    """Return every problem found (empty list when valid); paths, not lines."""
    errors: list[ConfigError] = []
    err = lambda path, msg: errors.append(ConfigError(path, msg))  # noqa: E731

    if not isinstance(data, dict):
        return [ConfigError("", "the file must be a mapping with code, name, id_prefix and attributes")]
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            err(str(key), f"unknown key (expected one of {', '.join(sorted(TOP_LEVEL_KEYS))})")
    code = data.get("code")
    if not isinstance(code, str) or not CODE_RE.match(code):
        err("code", "required: lower-case letters, digits and underscores, starting with a letter")
    if not isinstance(data.get("name"), str) or not data.get("name"):
        err("name", "required: a display name such as 'Customer'")
    prefix = data.get("id_prefix")
    if not isinstance(prefix, str) or not PREFIX_RE.match(prefix):
        err("id_prefix", "required: 2 to 5 upper-case letters, e.g. CUS")

    attributes = data.get("attributes")
    names: set[str] = set()
    if not isinstance(attributes, list) or not attributes:
        err("attributes", "required: a non-empty list of attributes")
        attributes = []
    for index, attr in enumerate(attributes):
        path = f"attributes[{index}]"
        if not isinstance(attr, dict):
            err(path, "each attribute must be a mapping with at least name and type")
            continue
        for key in attr:
            if key not in ATTRIBUTE_KEYS:
                err(_join(path, key), f"unknown key (expected one of {', '.join(sorted(ATTRIBUTE_KEYS))})")
        name = attr.get("name")
        if not isinstance(name, str) or not ATTR_RE.match(name) or "__" in name:
            err(_join(path, "name"), "required: lower-case identifier without double underscores")
        elif name in names:
            err(_join(path, "name"), f"duplicate attribute '{name}'")
        else:
            names.add(name)
        attr_type = attr.get("type")
        if attr_type not in ATTRIBUTE_TYPES:
            err(_join(path, "type"), f"unknown type {attr_type!r} (expected one of {', '.join(sorted(ATTRIBUTE_TYPES))})")
        if "required" in attr and not isinstance(attr["required"], bool):
            err(_join(path, "required"), "must be true or false")
        if "max_length" in attr and (not isinstance(attr["max_length"], int) or attr["max_length"] < 1):
            err(_join(path, "max_length"), "must be a positive integer")
        if attr_type == "reference":
            ref = attr.get("references")
            if not isinstance(ref, str) or not CODE_RE.match(ref):
                err(_join(path, "references"), "a reference attribute names the entity type it points at")
        elif "references" in attr:
            err(_join(path, "references"), "only attributes of type reference point at another entity type")
        if "relationship" in attr and attr["relationship"] not in RELATIONSHIPS:
            err(_join(path, "relationship"), f"expected one of {', '.join(sorted(RELATIONSHIPS))}")

    for section, validator in SECTION_VALIDATORS.items():
        if section in data and data[section] is not None:
            for error in validator(data[section], names):
                errors.append(ConfigError(_join(section, error.path) if error.path else section, error.message))
    return errors


def _validate_survivorship(section: Any, attribute_names: set[str]) -> list[ConfigError]:
    from mdm.survivorship import validate_survivorship_config

    return [ConfigError(path, msg) for path, msg in validate_survivorship_config(section, attribute_names)]


def _validate_matching(section: Any, attribute_names: set[str]) -> list[ConfigError]:
    from matching.settings import MatchSettings, SettingsError

    try:
        settings = MatchSettings.from_dict(section)
    except SettingsError as exc:
        return [ConfigError(exc.path, exc.message)]
    return [
        ConfigError(path, f"unknown attribute {name!r}")
        for path, name in settings.referenced_attributes()
        if name.split("__", 1)[0] not in attribute_names
    ]


def _validate_prices(section: Any, attribute_names: set[str]) -> list[ConfigError]:
    from mdm.services.prices import validate_prices_section

    return [ConfigError(path, msg) for path, msg in validate_prices_section(section, attribute_names)]


SECTION_VALIDATORS = {"survivorship": _validate_survivorship, "matching": _validate_matching,
                      "prices": _validate_prices}


def check_entity_config(text: str, filename: str = "") -> dict:
    """Parse and validate YAML text; raise EntityConfigInvalid with line numbers."""
    data, lines = parse_yaml(text, filename)
    errors = validate_entity_config(data)
    if errors:
        located = [ConfigError(e.path, e.message, _nearest_line(e.path, lines)) for e in errors]
        raise EntityConfigInvalid(located, filename)
    return data


def _nearest_line(path: str, lines: dict[str, int]) -> int | None:
    # A missing key has no line of its own: point at its closest parent.
    while True:
        if path in lines:
            return lines[path]
        if not path:
            return None
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""


def attribute_specs(config: dict) -> list[AttributeSpec]:
    return [
        AttributeSpec(
            name=a["name"],
            type=a["type"],
            required=bool(a.get("required", False)),
            max_length=a.get("max_length"),
            references=a.get("references"),
        )
        for a in config.get("attributes", [])
    ]


# --- Saving -------------------------------------------------------------------

@transaction.atomic
def save_entity_config(text: str, *, filename: str = "", user: str = "", note: str = ""):
    """Validate ``text`` and create or update its entity type; returns (entity_type, created, changed)."""
    from mdm.models import EntityConfigVersion, EntityType

    data = check_entity_config(text, filename)
    entity = EntityType.objects.select_for_update().filter(code=data["code"]).first()
    created = entity is None
    if created:
        entity = EntityType(code=data["code"], version=1)
    elif entity.config_yaml == text:
        return entity, False, False
    else:
        # Rule drafts take numbers from the same sequence, so the next
        # version is the highest ever used plus one, not the active one's.
        entity.version = next_version_number(entity)
    entity.name = data["name"]
    entity.id_prefix = data["id_prefix"]
    entity.config = data
    entity.config_yaml = text
    entity.full_clean()
    entity.save()
    if not created:
        EntityConfigVersion.objects.filter(entity_type=entity, status=EntityConfigVersion.Status.ACTIVE).update(
            status=EntityConfigVersion.Status.ARCHIVED)
    version = EntityConfigVersion.objects.create(
        entity_type=entity, version=entity.version, config_yaml=text, config=data,
        status=EntityConfigVersion.Status.ACTIVE, created_by=user,
        note=note or (f"loaded from {filename}" if filename else ""),
    )
    if created:
        from mdm.services.golden import prepare_numbers

        prepare_numbers(entity)  # now, not in the first match task's transaction
    else:
        # Golden records are computed from the config: a changed config is
        # recomputed in the background, like an activated rule draft.
        from mdm.services.rules import start_recompute_job

        start_recompute_job(entity, version, user=user, only_if_goldens=True)
    return entity, created, True


def next_version_number(entity) -> int:
    from django.db.models import Max

    from mdm.models import EntityConfigVersion

    highest = EntityConfigVersion.objects.filter(entity_type=entity).aggregate(m=Max("version"))["m"] or 0
    return max(highest, entity.version) + 1


def dump_entity_config(entity) -> str:
    return entity.config_yaml if entity.config_yaml.endswith("\n") else entity.config_yaml + "\n"
