"""`tierwise docs`: the documentation site an auditor opens without a developer.

- dbt's docs (`dbt docs generate --static`): every model, seed, source, test and exposure
  (the serving database and the monthly review), the lineage graph and every column's
  description, as one self-contained `index.html`.
- Column-level lineage of the marts, from sqlglot over dbt's compiled SQL: for each mart column,
  the columns it is computed from, followed model by model down to the landing tables (`raw`)
  and rule seeds (`rules`). `column_lineage.json` for machines, `column_lineage.html` for people.
"""

from __future__ import annotations

import html
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tierwise.config import Settings, dbt_command


@dataclass
class DocsSite:
    folder: Path
    index: Path
    lineage_json: Path
    lineage_html: Path
    mart_columns: int
    resolved_columns: int


def build_docs(settings: Settings) -> DocsSite:
    settings.ensure()
    out = settings.home / "docs"
    target = out / "dbt"
    env = {**os.environ, **settings.dbt_env()}
    parsed = settings.dbt_target_dir / "partial_parse.msgpack"
    if parsed.is_file():  # the project as the code location parsed it: dbt re-checks it, then skips a full parse
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(parsed, target / "partial_parse.msgpack")
    command = dbt_command("docs", "generate", "--static", "--target-path", str(target))
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"dbt docs generate failed:\n{done.stdout[-3000:]}{done.stderr[-2000:]}")
    index = out / "index.html"
    shutil.copyfile(target / "static_index.html", index)
    manifest = json.loads((target / "manifest.json").read_text())
    catalog = json.loads((target / "catalog.json").read_text())
    lineage = column_lineage(manifest, catalog)
    lineage_json = out / "column_lineage.json"
    lineage_json.write_text(json.dumps(lineage, indent=2, sort_keys=True, ensure_ascii=False))
    lineage_html = out / "column_lineage.html"
    lineage_html.write_text(_lineage_page(lineage), encoding="utf-8")
    marts = lineage["marts"]
    resolved = sum(1 for columns in marts.values() for c in columns.values() if c["sources"])
    return DocsSite(out, index, lineage_json, lineage_html, sum(len(c) for c in marts.values()), resolved)


# ------------------------------------------------------------------------- column lineage
def _relations(manifest: dict) -> dict[str, str]:
    """'schema.table' (lower case) -> dbt unique_id, for models, seeds, snapshots and sources."""
    found = {}
    for group in ("nodes", "sources"):
        for unique_id, node in manifest.get(group, {}).items():
            if node.get("resource_type") in ("model", "seed", "snapshot", "source"):
                name = node.get("alias") or node.get("identifier") or node.get("name")
                found[f"{node['schema']}.{name}".lower()] = unique_id
    return found


def _schema(catalog: dict) -> dict:
    """sqlglot schema {db: {schema: {table: {column: type}}}} from dbt's catalog."""
    tree: dict = {}
    for group in ("nodes", "sources"):
        for entry in catalog.get(group, {}).values():
            meta = entry["metadata"]
            columns = {name.lower(): col["type"] for name, col in entry["columns"].items()}
            tree.setdefault(meta["database"], {}).setdefault(meta["schema"], {})[meta["name"]] = columns
    return tree


def _direct(sql: str, column: str, schema: dict) -> tuple[list[tuple[str, str]], str | None]:
    """The (schema.table, column) pairs one output column of a query reads."""
    from sqlglot import exp
    from sqlglot.lineage import lineage

    try:
        root = lineage(column, sql, schema=schema, dialect="duckdb")
    except Exception as exc:  # noqa: BLE001 - report the column as unresolved, never fail the docs
        return [], f"{type(exc).__name__}: {str(exc)[:200]}"
    found = set()
    for node in root.walk():
        if isinstance(node.expression, exp.Table) and not node.downstream:
            table = node.expression
            name = node.name.split(".")[-1]
            found.add((f"{table.db}.{table.name}".lower(), name.lower()))
    return sorted(found), None


def column_lineage(manifest: dict, catalog: dict) -> dict:
    relations = _relations(manifest)
    schema = _schema(catalog)
    nodes = manifest.get("nodes", {})
    memo: dict[tuple[str, str], dict] = {}

    def resolve(unique_id: str, column: str, depth: int = 0) -> dict:
        key = (unique_id, column)
        if key in memo:
            return memo[key]
        node = nodes.get(unique_id) or manifest.get("sources", {}).get(unique_id, {})
        kind = node.get("resource_type")
        if kind in ("source", "seed") or depth > 40:
            memo[key] = {"direct": [], "sources": [f"{node.get('schema')}.{node.get('name')}.{column}"], "error": None}
            return memo[key]
        sql = node.get("compiled_code")
        if not sql:
            memo[key] = {"direct": [], "sources": [], "error": "no compiled SQL"}
            return memo[key]
        memo[key] = {"direct": [], "sources": [], "error": None}  # guards a cycle while resolving
        direct, error = _direct(sql, column, schema)
        upstream, sources = [], set()
        for relation, upstream_column in direct:
            upstream_id = relations.get(relation)
            label = f"{relation}.{upstream_column}"
            upstream.append(label)
            if upstream_id is None:
                sources.add(label)
                continue
            sources.update(resolve(upstream_id, upstream_column, depth + 1)["sources"])
        memo[key] = {"direct": sorted(upstream), "sources": sorted(sources), "error": error}
        return memo[key]

    marts: dict = {}
    for unique_id, node in sorted(nodes.items()):
        if node.get("resource_type") != "model" or node.get("schema") != "marts":
            continue
        columns = catalog.get("nodes", {}).get(unique_id, {}).get("columns") or node.get("columns", {})
        marts[node["name"]] = {c.lower(): resolve(unique_id, c.lower()) for c in columns}
    return {"marts": marts}


def _lineage_page(lineage: dict) -> str:
    rows = []
    for mart, columns in lineage["marts"].items():
        for column, found in columns.items():
            sources = "<br>".join(html.escape(s) for s in found["sources"]) or html.escape(found["error"] or "-")
            direct = "<br>".join(html.escape(s) for s in found["direct"]) or "-"
            rows.append(f"<tr><td>{mart}</td><td>{column}</td><td>{direct}</td><td>{sources}</td></tr>")
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>tierwise column lineage</title>"
        "<style>body{font-family:sans-serif;margin:1rem}table{border-collapse:collapse;font-size:13px}"
        "td,th{border:1px solid #ccc;padding:3px 6px;vertical-align:top}th{background:#eef3f8}</style></head><body>"
        "<h1>Column lineage of the marts</h1><p>From sqlglot over dbt's compiled SQL: each mart column, the "
        "columns it reads directly, and the landing (<code>raw</code>) and rule (<code>rules</code>) columns it "
        "comes from in the end. The dbt docs (<a href='index.html'>index.html</a>) show the model-level graph.</p>"
        "<table><tr><th>mart</th><th>column</th><th>reads</th><th>from landing / rules</th></tr>"
        + "".join(rows)
        + "</table></body></html>"
    )
