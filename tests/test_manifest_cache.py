"""The code location reuses a home's parsed dbt manifest while nothing it depends on changed
(defs/dbt_assets.py: manifest_fingerprint): a copied home or a second refresh loads its
definitions without a dbt parse; a change of rules (the seeds) makes it parse again."""

from __future__ import annotations

import subprocess

import msgpack
import warehouses
from tierwise.config import Settings
from tierwise.defs.dbt_assets import manifest_fingerprint, prepare_manifest
from tierwise.rules import DEFAULT_RULES_DIR, install_rules
from warehouses import snapshot


def test_fingerprint_ignores_the_home_and_follows_the_rules(tmp_path):
    first, second = Settings(tmp_path / "a"), Settings(tmp_path / "b")
    assert manifest_fingerprint(first) == manifest_fingerprint(second)  # the warehouse path is not an input
    rules = tmp_path / "bank_rules"
    rules.mkdir()
    policy = (DEFAULT_RULES_DIR / "tier_policy.csv").read_text()
    (rules / "tier_policy.csv").write_text(policy)
    install_rules(second, rules)  # the same values, but the seeds now come from another folder
    assert manifest_fingerprint(second) != manifest_fingerprint(first)
    changed = manifest_fingerprint(second)
    (rules / "tier_policy.csv").write_text(policy.replace("downgrade_grace_months,3", "downgrade_grace_months,4"))
    install_rules(second, rules)
    assert manifest_fingerprint(second) != changed


def test_a_copied_home_reuses_its_manifest(golden_jan, tmp_path):
    settings = Settings(snapshot(golden_jan, tmp_path / "home"))
    manifest = settings.dbt_target_dir / "manifest.json"
    before = manifest.stat().st_mtime_ns
    assert prepare_manifest(settings) == manifest
    assert manifest.stat().st_mtime_ns == before  # not parsed again
    (settings.dbt_target_dir / "manifest.fingerprint").write_text("stale\n")
    assert prepare_manifest(settings) == manifest
    assert manifest.stat().st_mtime_ns > before  # a stamp that does not match: parsed
    assert (settings.dbt_target_dir / "manifest.fingerprint").read_text().strip() == manifest_fingerprint(settings)


def _parse_messages(settings: Settings) -> list[str]:
    done = settings.run_dbt("ls", "--select", "fct_customer_tier", "--log-format", "json", "--log-level", "debug")
    assert done.returncode == 0, done.stdout[-2000:]
    return [line for line in done.stdout.splitlines() if "partial pars" in line.lower()]


def test_dbt_keeps_its_partial_parse_in_a_copied_home(golden_jan, tmp_path):
    # tests/warehouses.py snapshot: the copy's dbt reuses the parsed project (only its path differs) ...
    home = snapshot(golden_jan, tmp_path / "home")
    copied = _parse_messages(Settings(home))
    assert any("no changes found" in line for line in copied) and not any("Unable" in line for line in copied)
    # ... which a plain copy would not: its stored profile hash is the state's, not the one dbt
    # computes for the copy's path (just shown to be the one snapshot stores), so dbt parses it all
    plain = tmp_path / "plain"
    subprocess.run(["cp", "-a", str(golden_jan), str(plain)], check=True)
    assert _stored_profile_hash(plain) != _stored_profile_hash(home) == warehouses._profile_hash(home)
    assert _stored_profile_hash(plain) == _stored_profile_hash(golden_jan)


def _stored_profile_hash(home) -> str:
    data = (home / "dbt" / "target" / "partial_parse.msgpack").read_bytes()
    return msgpack.unpackb(data, raw=False, strict_map_key=False)["state_check"]["profile_hash"]["checksum"]
