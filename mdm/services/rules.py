"""Survivorship rule changes: draft, preview, activate, recompute in the background.

A rule change is an ``EntityConfigVersion`` in status ``draft`` that carries a
new ``survivorship:`` section for an entity type. It changes nothing until
activated:

* ``create_rule_draft`` / ``update_rule_draft`` validate the section with the
  same validator as every config (errors name the path and line);
* ``preview_rule_draft`` computes, without writing, how many golden records
  would change and example before/after diffs (streamed in chunks, and only
  the attributes whose rule chain changed are recomputed, which is what makes
  100,000 golden records fit in seconds);
* ``activate_rule_draft`` makes the draft the active config (the previous one
  is archived) and starts a ``RuleChangeJob`` whose Celery task
  (``recompute_entity``) recomputes every golden record in chunks with reason
  ``rule_change``, counting progress.

A draft holds only the survivorship section; its full config is composed
from the entity type's *active* config each time (preview and activation
alike), so a draft written before some other config change neither reverts
that change nor previews something activation would not do. The YAML text
keeps the admin's comments: only the survivorship block is replaced.
"""
from __future__ import annotations

import logging
import random
import re
import textwrap
import time
from datetime import timedelta
from typing import Any

import orjson
import yaml
from django.core.exceptions import PermissionDenied
from django.db import OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone

from mdm.db import binary_results, json_key_params, json_keys, table
from mdm.models import (
    EntityConfigVersion,
    EntityType,
    GoldenRecord,
    GoldenRecordVersion,
    RuleChangeJob,
    RuleChangeSlice,
)
from mdm.roles import is_admin
from mdm.survivorship import compile_rules

log = logging.getLogger(__name__)

Status = EntityConfigVersion.Status
JobStatus = RuleChangeJob.Status
PREVIEW_CHUNK = 5000
JOB_CHUNK = 2000
STALE_JOB = timedelta(minutes=10)
# A chunk rolled back by a deadlock or a serialization failure (PostgreSQL's
# SQLSTATEs) is run again, up to this many times in all.
CHUNK_ATTEMPTS = 5
RETRYABLE = {"40P01", "40001"}


class RuleDraftInvalid(Exception):
    """The survivorship section is not valid; ``errors`` lists each problem with its path (and line)."""

    def __init__(self, errors: list[str]):
        self.errors = errors
        super().__init__("\n".join(errors))


class RuleDraftError(Exception):
    """The draft cannot be used as asked (already activated, not a draft …)."""


# --------------------------------------------------------------------------- #
# Drafts
# --------------------------------------------------------------------------- #

def create_rule_draft(entity: EntityType, survivorship: dict | str, user, *, note: str = "") -> EntityConfigVersion:
    """A new draft rule set for ``entity``: the survivorship section as a mapping or YAML text.

    YAML text may be the section's body (``default: …``) or include the
    ``survivorship:`` key. Raises ``RuleDraftInvalid`` with every problem.
    """
    actor = _require_admin(user)
    section, text = _parse_section(entity, survivorship)
    with transaction.atomic():
        locked = EntityType.objects.select_for_update().get(pk=entity.pk)
        config, config_yaml = compose_config(locked, section, text)
        from mdm.services.entity_config import next_version_number

        return EntityConfigVersion.objects.create(
            entity_type=locked, version=next_version_number(locked), status=Status.DRAFT, config=config,
            config_yaml=config_yaml, rules_yaml=text, base_version=locked.version, created_by=actor,
            note=note[:255] or "survivorship rule draft",
        )


def update_rule_draft(draft: EntityConfigVersion, survivorship: dict | str, user, *, note: str | None = None
                      ) -> EntityConfigVersion:
    """Replace a draft's survivorship section (drafts are editable until activated)."""
    _require_admin(user)
    entity = draft.entity_type
    section, text = _parse_section(entity, survivorship)
    with transaction.atomic():
        locked = _lock_draft(draft)
        config, config_yaml = compose_config(entity, section, text)
        locked.config, locked.config_yaml, locked.rules_yaml = config, config_yaml, text
        locked.base_version = EntityType.objects.filter(pk=entity.pk).values_list("version", flat=True).get()
        if note is not None:
            locked.note = note[:255]
        locked.save(update_fields=["config", "config_yaml", "rules_yaml", "base_version", "note"])
    draft.refresh_from_db()
    return draft


def discard_rule_draft(draft: EntityConfigVersion, user) -> None:
    _require_admin(user)
    with transaction.atomic():
        _lock_draft(draft).delete()


def draft_from_version(version: EntityConfigVersion, user, *, note: str = "") -> EntityConfigVersion:
    """Start a draft from an earlier rule set (to go back to it, preview and activate the draft)."""
    section = version.config.get("survivorship") or {}
    return create_rule_draft(version.entity_type, section, user,
                             note=note or f"back to the rules of v{version.version}")


def _lock_draft(draft: EntityConfigVersion) -> EntityConfigVersion:
    # ``of``: the default ordering joins the entity type, whose row must stay free for
    # ingests and matching while an admin edits a draft.
    locked = EntityConfigVersion.objects.select_for_update(of=("self",)).filter(pk=draft.pk).order_by().first()
    if locked is None:
        raise RuleDraftError("This draft no longer exists.")
    if locked.status != Status.DRAFT:
        raise RuleDraftError(f"v{locked.version} is {locked.get_status_display().lower()}, not a draft; "
                             "start a new draft to change the rules.")
    return locked


def draft_section(draft: EntityConfigVersion) -> dict:
    return draft.config.get("survivorship") or {}


def validate_rules(entity: EntityType, survivorship: dict | str) -> dict:
    """The parsed survivorship section, or ``RuleDraftInvalid`` listing every problem (forms call this)."""
    return _parse_section(entity, survivorship)[0]


def _parse_section(entity: EntityType, survivorship: dict | str) -> tuple[dict, str]:
    """(section, its YAML text) from a mapping or text; validated against the entity's attributes."""
    from mdm.services.entity_config import (
        EntityConfigInvalid,
        _nearest_line,
        parse_yaml,
        validate_entity_config,
    )

    lines: dict[str, int] = {}
    wrapped = False
    if isinstance(survivorship, str):
        text = survivorship.replace("\r\n", "\n")
        try:
            section, lines = parse_yaml(text)
        except EntityConfigInvalid as exc:
            raise RuleDraftInvalid([str(e) for e in exc.errors]) from exc
        if isinstance(section, dict) and set(section) == {"survivorship"}:
            section, wrapped = section["survivorship"], True
        if not text.endswith("\n"):
            text += "\n"
    elif isinstance(survivorship, dict):
        section = survivorship
        text = yaml.safe_dump(survivorship, sort_keys=False, default_flow_style=None, allow_unicode=True, width=100)
    else:
        raise RuleDraftInvalid(["the rules are a mapping or YAML text with default, attributes and critical"])
    if section is None:
        section = {}
    candidate = dict(entity.config)
    candidate["survivorship"] = section
    errors = []
    for error in validate_entity_config(candidate):
        if not (error.path == "survivorship" or error.path.startswith("survivorship.")):
            continue  # the rest of the config is the active one: not the draft's business
        path = error.path if wrapped else error.path.removeprefix("survivorship").lstrip(".")
        line = _nearest_line(path, lines) if lines else None
        where = f"line {line}, " if line else ""
        errors.append(f"{where}{error.path}: {error.message}")
    if errors:
        raise RuleDraftInvalid(errors)
    if wrapped:
        text = _section_body(text)
    return section, text


def _section_body(text: str) -> str:
    """The body of a ``survivorship:`` block, dedented, keeping its comments."""
    out = []
    seen_key = False
    for line in text.splitlines():
        if not seen_key and line.strip().startswith("survivorship:"):
            seen_key = True
            rest = line.split(":", 1)[1].strip()
            if rest and not rest.startswith("#"):
                out.append(rest)  # flow style: survivorship: {default: …}
            continue
        out.append(line)
    return textwrap.dedent("\n".join(out)).strip("\n") + "\n"


_TOP_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\s*:")


def compose_config(entity: EntityType, section: dict, text: str) -> tuple[dict, str]:
    """The entity's active config with its survivorship section replaced: (config, YAML text)."""
    from mdm.services.entity_config import EntityConfigInvalid, check_entity_config

    base = entity.config_yaml if entity.config_yaml.endswith("\n") else entity.config_yaml + "\n"
    body = text if text.endswith("\n") else text + "\n"
    if yaml.safe_load(body) is None:
        block = "survivorship: {}\n"
    else:
        block = "survivorship:\n" + textwrap.indent(body, "  ", lambda line: bool(line.strip()))
    lines = base.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.startswith("survivorship:")), None)
    if start is None:
        composed = base + block
    else:
        end = next((i for i in range(start + 1, len(lines)) if _TOP_KEY.match(lines[i])), len(lines))
        # Comments right above the next key describe that key: keep them with it.
        while end > start + 1 and (lines[end - 1].startswith("#") or not lines[end - 1].strip()):
            end -= 1
        composed = "".join(lines[:start]) + block + "".join(lines[end:])
    try:
        config = check_entity_config(composed, f"{entity.code}.yaml")
    except EntityConfigInvalid as exc:
        raise RuleDraftInvalid([str(e) for e in exc.errors]) from exc
    if (config.get("survivorship") or {}) != (section or {}):
        # The text splice must mean exactly the section that was validated.
        raise RuleDraftInvalid(["the survivorship section could not be placed into the configuration text"])
    return config, composed


# --------------------------------------------------------------------------- #
# Preview
# --------------------------------------------------------------------------- #

def preview_rule_draft(draft: EntityConfigVersion, examples: int = 10) -> dict[str, Any]:
    """How the draft would change the golden records, computed without writing anything.

    Returns ``{"total", "changed", "examples": [{"golden_id", "diff": {attr: [before, after]}}],
    "attributes"}``: ``total`` active golden records, ``changed`` those whose
    values would change, ``attributes`` the attributes whose rule chain the
    draft changes. Only those attributes are recomputed (the others'
    values cannot change); entity types with derived values (prices) are
    recomputed whole.
    """
    entity = EntityType.objects.get(pk=draft.entity_type_id)
    section = draft_section(draft)
    config, _ = compose_config(entity, section, draft.rules_yaml or yaml.safe_dump(section))
    from mdm.services import golden as golden_service

    old_rules = golden_service.rules_for(entity)
    new_rules = compile_rules(config)
    changed_attrs = sorted(
        name for name, rule in new_rules.items()
        if name not in old_rules or old_rules[name].chain != rule.chain or old_rules[name].attr_type != rule.attr_type
    ) + sorted(name for name in old_rules if name not in new_rules)
    active = GoldenRecord.objects.filter(entity_type=entity, status=GoldenRecord.Status.ACTIVE)
    total = active.count()
    result = {"total": total, "changed": 0, "examples": [], "attributes": changed_attrs}
    if not changed_attrs or not total:
        return result
    whole = config.get("prices") is not None
    rules = new_rules if whole else {name: new_rules[name] for name in changed_attrs if name in new_rules}
    last = 0
    while True:
        stored = _stored_values(entity, last, None if whole else changed_attrs)
        if not stored:
            break
        pks = list(stored)
        last = pks[-1]
        computed = golden_service.compute(entity, pks, config=config, rules=rules, only_rules=not whole)
        for pk in pks:
            golden_id, before = stored[pk]
            after = computed[pk][0].values
            names = sorted(set(before) | set(after)) if whole else changed_attrs
            diff = {name: [before.get(name), after.get(name)] for name in names if before.get(name) != after.get(name)}
            if diff:
                result["changed"] += 1
                if len(result["examples"]) < examples:
                    result["examples"].append({"golden_id": golden_id, "diff": diff})
    return result


def _stored_values(entity: EntityType, after: int, attributes: list[str] | None) -> dict[int, tuple[str, dict]]:
    """The next ``PREVIEW_CHUNK`` active golden records after pk ``after``: {pk: (golden ID, values)},
    only ``attributes`` of the values when given (raw and parsed with orjson: see mdm.db)."""
    column = f"g.{connection.ops.quote_name('values')}"  # a keyword in SQLite
    if attributes is None:
        values_sql, params = f"CAST({column} AS TEXT)", []
    else:
        values_sql, params = json_keys(column, len(attributes)), json_key_params(attributes)
    with connection.cursor() as cursor:
        binary_results(cursor)
        cursor.execute(
            f"""SELECT g.id, g.golden_id, {values_sql} FROM {table(GoldenRecord)} g
                WHERE g.entity_type_id = %s AND g.status = %s AND g.id > %s ORDER BY g.id LIMIT %s""",
            [*params, entity.pk, GoldenRecord.Status.ACTIVE, after, PREVIEW_CHUNK])
        rows = cursor.fetchall()
    return {pk: (golden_id, {k: v for k, v in orjson.loads(values).items() if v is not None})
            for pk, golden_id, values in rows}


# --------------------------------------------------------------------------- #
# Activation and the background recompute
# --------------------------------------------------------------------------- #

def activate_rule_draft(draft: EntityConfigVersion, user) -> RuleChangeJob:
    """Make the draft the entity type's rules and recompute every golden record in the background."""
    actor = _require_admin(user)
    with transaction.atomic():
        entity = EntityType.objects.select_for_update().get(pk=draft.entity_type_id)
        locked = _lock_draft(draft)
        section = draft_section(locked)
        config, config_yaml = compose_config(entity, section, locked.rules_yaml or yaml.safe_dump(section))
        now = timezone.now()
        EntityConfigVersion.objects.filter(entity_type=entity, status=Status.ACTIVE).update(status=Status.ARCHIVED)
        locked.status, locked.config, locked.config_yaml = Status.ACTIVE, config, config_yaml
        locked.activated_at, locked.activated_by = now, actor
        locked.save(update_fields=["status", "config", "config_yaml", "activated_at", "activated_by"])
        entity.config, entity.config_yaml, entity.version = config, config_yaml, locked.version
        entity.save(update_fields=["config", "config_yaml", "version", "updated_at"])
        job = start_recompute_job(entity, locked, user=actor)
    draft.refresh_from_db()
    return job


def active_config_version(entity: EntityType) -> EntityConfigVersion:
    """The config version in force (the newest active one; a config loaded before drafts existed: its latest)."""
    versions = EntityConfigVersion.objects.filter(entity_type=entity)
    return (versions.filter(status=Status.ACTIVE).order_by("-version").first()
            or versions.order_by("-version").first())


def start_recompute_job(entity: EntityType, version: EntityConfigVersion, *, user="", only_if_goldens: bool = False,
                        reason: str = GoldenRecordVersion.Reason.RULE_CHANGE) -> RuleChangeJob | None:
    """Create a job recomputing every active golden record of ``entity``; enqueued when the transaction commits.

    A job still pending or running for the same entity type is superseded:
    it stops at its next chunk, and this one recomputes everything with the
    newer rules.
    """
    actor = user if isinstance(user, str) else user.get_username()
    active = GoldenRecord.objects.filter(entity_type=entity, status=GoldenRecord.Status.ACTIVE)
    if only_if_goldens and not active.exists():
        return None
    now = timezone.now()
    RuleChangeJob.objects.filter(entity_type=entity, status__in=[JobStatus.PENDING, JobStatus.RUNNING]).update(
        status=JobStatus.SUPERSEDED, finished_at=now, updated_at=now)
    job = RuleChangeJob.objects.create(entity_type=entity, config_version=version, total=active.count(),
                                       created_by=actor, reason=reason)
    job_id = job.pk
    transaction.on_commit(lambda: _enqueue(job_id))
    return job


def run_failed_job_again(job: RuleChangeJob, user) -> RuleChangeJob | None:
    """A new job recomputing the failed job's entity type, with the rules in force now.

    A failed job (an error past a chunk's retries, a database that went away)
    leaves the golden records it had not reached with their old values. A
    recompute derives every value from the source records, so running all of
    it again rewrites nothing the failed job finished (no new version where
    nothing changes) and completes the rest. None when the job did not fail.
    """
    actor = _require_admin(user)
    if job.status != JobStatus.FAILED:
        return None
    with transaction.atomic():
        return start_recompute_job(job.entity_type, active_config_version(job.entity_type), user=actor,
                                   reason=job.reason)


def _enqueue(job_id: int) -> None:
    from mdm.tasks import recompute_entity

    recompute_entity.delay(job_id)


def claim_job(job_id: int) -> RuleChangeJob | None:
    """Claim a pending job (or a running one whose worker went silent); None if someone else has it."""
    now = timezone.now()
    if RuleChangeJob.objects.filter(pk=job_id, status=JobStatus.PENDING).update(
            status=JobStatus.RUNNING, started_at=now, updated_at=now):
        return RuleChangeJob.objects.select_related("entity_type", "config_version").get(pk=job_id)
    # A redelivered task (acks_late after a worker died) resumes a job
    # nobody has advanced for a while, from where it stopped.
    if RuleChangeJob.objects.filter(pk=job_id, status=JobStatus.RUNNING, updated_at__lt=now - STALE_JOB).update(
            updated_at=now):
        return RuleChangeJob.objects.select_related("entity_type", "config_version").get(pk=job_id)
    return None


def plan_job(job_id: int, slices: int | None = None) -> list[int] | None:
    """Claim the job and cut its golden records into slices; returns the ids of slices still to run.

    None when the job cannot be claimed (finished, superseded, or another
    worker is on it).

    Slices are contiguous id ranges of about equal size, so parallel tasks
    never touch the same golden record (no lock waits between them).
    """
    from django.conf import settings

    job = claim_job(job_id)
    if job is None:
        return None
    existing = list(RuleChangeSlice.objects.filter(job=job).exclude(status=RuleChangeSlice.Status.DONE)
                    .values_list("pk", flat=True))
    if existing or RuleChangeSlice.objects.filter(job=job).exists():
        if not existing:
            _finish(job.pk)
        return existing  # a redelivered planning task: the slices exist already
    pks = list(GoldenRecord.objects.filter(entity_type=job.entity_type, status=GoldenRecord.Status.ACTIVE)
               .order_by("pk").values_list("pk", flat=True))
    count = max(1, min(slices or settings.MDM_RECOMPUTE_SLICES, len(pks)))
    bounds = []
    for index in range(count):
        part = pks[len(pks) * index // count:len(pks) * (index + 1) // count]
        if part:
            bounds.append((part[0], part[-1]))
    if not bounds:
        _finish(job.pk)
        return []
    # The last slice also takes golden records created after planning.
    bounds[-1] = (bounds[-1][0], 2**62)
    created = RuleChangeSlice.objects.bulk_create([
        RuleChangeSlice(job=job, index=i, first_pk=lo, last_pk=hi, done_up_to=lo - 1)
        for i, (lo, hi) in enumerate(bounds)
    ])
    return [slice_.pk for slice_ in created]


def run_slice(slice_id: int) -> RuleChangeSlice | None:
    """Recompute one slice chunk by chunk (one transaction each), counting progress on the job."""
    from mdm.services import golden as golden_service

    now = timezone.now()
    claimed = RuleChangeSlice.objects.filter(pk=slice_id, status=RuleChangeSlice.Status.PENDING).update(
        status=RuleChangeSlice.Status.RUNNING, updated_at=now)
    if not claimed and not RuleChangeSlice.objects.filter(
            pk=slice_id, status=RuleChangeSlice.Status.RUNNING, updated_at__lt=now - STALE_JOB).update(updated_at=now):
        return None
    slice_ = RuleChangeSlice.objects.select_related("job__entity_type", "job__config_version").get(pk=slice_id)
    job = slice_.job
    entity = job.entity_type
    note = f"rules v{job.config_version.version}" if job.reason == GoldenRecordVersion.Reason.RULE_CHANGE else ""
    try:
        while True:
            status = RuleChangeJob.objects.filter(pk=job.pk).values_list("status", flat=True).get()
            if status != JobStatus.RUNNING:
                log.info("rule change job %s stopped: %s", job.pk, status)
                return slice_
            pks = list(GoldenRecord.objects.filter(entity_type=entity, status=GoldenRecord.Status.ACTIVE,
                                                   pk__gt=slice_.done_up_to, pk__lte=slice_.last_pk)
                       .order_by("pk").values_list("pk", flat=True)[:JOB_CHUNK])
            if not pks:
                break
            for attempt in range(1, CHUNK_ATTEMPTS + 1):
                try:
                    with transaction.atomic():
                        entity.refresh_from_db(fields=["config", "config_yaml", "version"])
                        result = golden_service.recompute(entity, pks, reason=job.reason,
                                                          actor=job.created_by or "system", note=note)
                        stamp = timezone.now()
                        RuleChangeSlice.objects.filter(pk=slice_.pk).update(
                            done_up_to=pks[-1], processed=F("processed") + len(pks), updated_at=stamp)
                        # Last in the transaction: the job row is locked only while committing.
                        RuleChangeJob.objects.filter(pk=job.pk).update(
                            processed=F("processed") + len(pks), changed=F("changed") + len(result.values_changed),
                            versions_written=F("versions_written") + len(result.changed), last_pk=pks[-1],
                            updated_at=stamp,
                        )
                    break
                except OperationalError as exc:
                    # Slices hold disjoint golden records, but a hierarchy link joins two of
                    # them: one slice rebuilding a child's links while another re-points the
                    # same rows at their parent can deadlock. PostgreSQL rolled the chunk back;
                    # it is recomputed from the source records, so running it again is safe.
                    if attempt == CHUNK_ATTEMPTS or getattr(exc.__cause__, "sqlstate", None) not in RETRYABLE:
                        raise
                    log.warning("rule change job %s slice %s: %s; chunk after %s again (attempt %s)",
                                job.pk, slice_.index, type(exc.__cause__).__name__, slice_.done_up_to, attempt + 1)
                    time.sleep(random.uniform(0.05, 0.25) * attempt)
            slice_.done_up_to = pks[-1]
    except Exception as exc:
        log.exception("rule change job %s slice %s failed", job.pk, slice_.index)
        RuleChangeJob.objects.filter(pk=job.pk).update(
            status=JobStatus.FAILED, error=f"slice {slice_.index}: {type(exc).__name__}: {exc}",
            finished_at=timezone.now(), updated_at=timezone.now())
        raise
    RuleChangeSlice.objects.filter(pk=slice_.pk).update(status=RuleChangeSlice.Status.DONE, updated_at=timezone.now())
    _finish(job.pk)
    slice_.refresh_from_db()
    return slice_


def _finish(job_id: int) -> None:
    """Complete the job once no slice is left (whichever slice finishes last does it)."""
    now = timezone.now()
    RuleChangeJob.objects.filter(pk=job_id, status=JobStatus.RUNNING).exclude(
        slices__status__in=[RuleChangeSlice.Status.PENDING, RuleChangeSlice.Status.RUNNING]
    ).update(status=JobStatus.COMPLETED, finished_at=now, updated_at=now)


def run_recompute_job(job_id: int, slices: int | None = None) -> RuleChangeJob | None:
    """The whole job in this process, slice after slice (tests, command line); None if not claimable."""
    slice_ids = plan_job(job_id, slices)
    if slice_ids is None:
        return None
    for slice_id in slice_ids:
        run_slice(slice_id)
    return RuleChangeJob.objects.get(pk=job_id)


def _require_admin(user) -> str:
    """Rule changes are for admins; a plain string is a trusted caller (command line, system) by name."""
    if isinstance(user, str):
        return user
    if user is None or not getattr(user, "is_authenticated", False) or not (is_admin(user) or user.is_superuser):
        raise PermissionDenied("Only admins may change survivorship rules.")
    return user.get_username()
