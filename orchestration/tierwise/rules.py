"""Rules as data: the shipped seeds, or a bank's own folder of CSVs with the same names.

`tierwise run --rules DIR` copies the shipped defaults into $TIERWISE_HOME/rules and lays the
bank's files over them; from then on that folder serves this warehouse (dbt reads it through
TIERWISE_RULES_PATH in dbt_project.yml's seed-paths). A change of rules is detected by hash so
the stateful tier model is rebuilt from the first month (earlier months keep the threshold
version in force for them, because versions apply from their effective_from).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from tierwise.config import DBT_PROJECT_DIR, REPO_ROOT, Settings
from tierwise.rules_check import RulesInvalid, validate_rules

DEFAULT_RULES_DIR = REPO_ROOT / "seeds"


class RulesError(ValueError):
    pass


def rule_names() -> list[str]:
    return sorted(p.stem for p in DEFAULT_RULES_DIR.glob("*.csv"))


def install_rules(settings: Settings, source: Path) -> list[str]:
    """Overlay a bank's rule CSVs on the defaults for this warehouse; returns the files replaced."""
    source = Path(source)
    if not source.is_dir():
        raise RulesError(f"--rules {source}: not a folder")
    given = sorted(source.glob("*.csv"))
    if not given:
        raise RulesError(f"--rules {source}: no .csv files in it (expected some of: {', '.join(rule_names())})")
    unknown = [p.name for p in given if p.stem not in rule_names()]
    if unknown:
        raise RulesError(
            f"--rules {source}: unknown rule file(s) {', '.join(unknown)}; known: {', '.join(rule_names())}"
        )
    target = settings.rules_dir
    staging = target.with_name(target.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for default in DEFAULT_RULES_DIR.glob("*.csv"):
        shutil.copyfile(default, staging / default.name)
    for path in given:
        shutil.copyfile(path, staging / path.name)
    try:  # the whole folder is checked before it replaces the rules in force
        validate_rules(staging, DEFAULT_RULES_DIR)
    except RulesInvalid as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise RulesError(f"--rules {source}: {exc}; the rules in force are unchanged") from None
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return [p.name for p in given]


def active_rules_dir(settings: Settings) -> Path:
    return settings.rules_dir if settings.rules_dir.is_dir() else DEFAULT_RULES_DIR


def rules_path_for_dbt(settings: Settings) -> str:
    """seed-paths entry, relative to the dbt project (an absolute seed path is unsafe in dbt)."""
    return os.path.relpath(active_rules_dir(settings), DBT_PROJECT_DIR)


def rules_hash(settings: Settings) -> str:
    digest = hashlib.sha256()
    for path in sorted(active_rules_dir(settings).glob("*.csv")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def rules_changed_since_last_build(settings: Settings) -> bool:
    marker = settings.home / "state" / "rules.sha256"
    return not marker.is_file() or marker.read_text().strip() != rules_hash(settings)


def record_rules_built(settings: Settings) -> None:
    marker = settings.home / "state" / "rules.sha256"
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(rules_hash(settings) + "\n")
