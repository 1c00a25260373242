"""The bad-input corpus: each case is one deliberate defect in an otherwise valid batch.

Every case asserts the exact outcome: refused with which message, or which rows were
quarantined for which rule, and the reconciliation numbers (delivered = loaded + quarantined).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import pytest
from landing_builder import AS_OF, BASE, edit_manifest, reseal, with_rows, write_batch
from tierwise.config import Settings
from tierwise.landing.loader import load_batch
from tierwise.landing.reader import BatchRefused
from warehouses import snapshot


@pytest.fixture
def con(tmp_path):
    connection = duckdb.connect(str(tmp_path / "wh.duckdb"))
    yield connection
    connection.close()


def quarantined(con, table):
    return con.execute(
        "select row_number, rule, column_name, detail from raw._quarantine where table_name = ? order by row_number",
        [table],
    ).fetchall()


def recon(con, table):
    return con.execute(
        "select rows_delivered, rows_loaded, rows_quarantined from raw._load_reconciliation where table_name = ?",
        [table],
    ).fetchone()


def assert_nothing_loaded(con):
    tables = con.execute("select count(*) from information_schema.tables where table_schema = 'raw'").fetchone()[0]
    if tables:
        assert con.execute("select count(*) from raw._load_batches").fetchone()[0] == 0
        assert con.execute("select count(*) from raw.customers").fetchone()[0] == 0


def refuse(con, folder, match) -> str:
    with pytest.raises(BatchRefused, match=match) as refused:
        load_batch(con, folder)
    assert_nothing_loaded(con)
    return str(refused.value)


# ---------------------------------------------------------------------------- refused batches
def test_valid_base_batch_loads_completely(con, tmp_path):
    result = load_batch(con, write_batch(tmp_path))
    assert result.status == "loaded"
    assert sum(t.quarantined for t in result.tables) == 0
    assert recon(con, "customers") == (3, 3, 0)
    assert con.execute("select count(*) from raw.deposit_transactions").fetchone()[0] == 3


def test_truncated_file_fewer_rows_than_manifest(con, tmp_path):
    folder = write_batch(tmp_path)
    path = folder / "customers.csv"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-1]))  # the last whole row is gone
    refuse(con, folder, r"customers\.csv: row 3 column -: truncated file: the manifest declares 3 rows, the file has 2")


def test_file_cut_mid_row(con, tmp_path):
    folder = write_batch(tmp_path)
    path = folder / "deposit_transactions.csv"
    text = path.read_text()
    path.write_text(text[: text.rindex("T3,A2,2025-10-07") + len("T3,A2,2025-10-07")])
    refuse(
        con,
        folder,
        r"deposit_transactions\.csv: row 3 column txn_ts: expected 9 fields, found 3 \(file cut mid-row",
    )


def test_checksum_mismatch_same_row_count(con, tmp_path):
    folder = write_batch(tmp_path)
    path = folder / "deposit_balances.csv"
    path.write_text(path.read_text().replace("1300.00", "1300.01"))
    refuse(con, folder, r"deposit_balances\.csv: row - column -: checksum mismatch \(corrupt file\)")


def test_gbk_file_read_as_declared(con, tmp_path):
    folder = write_batch(tmp_path, encoding="gbk")
    assert "张三丰".encode("gbk") in (folder / "customers.csv").read_bytes()
    load_batch(con, folder)
    names = con.execute("select full_name from raw.customers order by customer_id").fetchall()
    assert names == [("张三丰",), ("李四",), ("王五",)]
    assert con.execute("select branch_name from raw.branches where branch_id = 'B02'").fetchone() == ("上海第1支行",)


def test_wrong_declared_encoding(con, tmp_path):
    folder = write_batch(tmp_path, encoding="gbk")
    edit_manifest(folder, encoding="utf-8")  # the files are GBK, the manifest says UTF-8
    # branches.csv is the first table read; its row 1 column branch_name holds the first Chinese bytes.
    refuse(con, folder, r"branches\.csv: row 1 column branch_name: bytes .* are not valid utf-8")


def test_missing_required_column(con, tmp_path):
    header = [
        c
        for c in (
            "customer_id full_name id_number birth_date gender home_branch_id onboarded_on risk_level "
            "risk_assessed_on is_payroll updated_at"
        ).split()
    ]
    rows = with_rows("customers", [r[:3] + r[4:] for r in BASE["customers"]])  # phone column dropped
    folder = write_batch(tmp_path, rows, headers={"customers": header})
    refuse(con, folder, r"customers\.csv: header row column phone: required column missing")


def test_unknown_extra_column_is_not_loaded_and_warned(con, tmp_path):
    header = ["branch_id", "branch_name", "city", "region", "manager_mobile"]
    rows = with_rows("branches", [r + ["13900000000"] for r in BASE["branches"]])
    folder = write_batch(tmp_path, rows, headers={"branches": header})
    result = load_batch(con, folder)
    assert result.warnings == ["branches.csv: extra column 'manager_mobile' is not in the contract and was not loaded"]
    columns = [r[0] for r in con.execute("describe raw.branches").fetchall()]
    assert "manager_mobile" not in columns
    assert recon(con, "branches") == (2, 2, 0)


def test_non_numeric_amount(con, tmp_path):
    txns = [list(r) for r in BASE["deposit_transactions"]]
    txns[1][4] = "20O.00"  # letter O typed for zero
    folder = write_batch(tmp_path, with_rows("deposit_transactions", txns))
    refuse(
        con, folder, r"deposit_transactions\.csv: row 2 column amount: value '20O\.00' is not a plain decimal amount"
    )


@pytest.mark.reliability("bad_input")
@pytest.mark.parametrize("amount", ["10.005", "1.2e3", "1_000", "NaN", "NA", "NULL", "1 000.00", "0x10", "￥20.00"])
def test_money_is_a_plain_decimal_with_two_places_or_the_batch_is_refused(con, tmp_path, amount):
    """No rounding (10.005 was stored as 10.01), no exponent or digit separators, and a null word
    is not an empty field (NaN/NA/NULL were read as empty and quarantined as 'empty')."""
    txns = [list(r) for r in BASE["deposit_transactions"]]
    txns[1][4] = amount
    folder = write_batch(tmp_path, with_rows("deposit_transactions", txns))
    refuse(con, folder, r"deposit_transactions\.csv: row 2 column amount: value '.*' is not a plain decimal amount")


def test_plain_amounts_load_to_the_cent(con, tmp_path):
    txns = [list(r) for r in BASE["deposit_transactions"]]
    txns[1][4], txns[2][4] = "20", "0.5"
    load_batch(con, write_batch(tmp_path, with_rows("deposit_transactions", txns)))
    amounts = con.execute(
        "select cast(amount as varchar) from raw.deposit_transactions order by _row_number"
    ).fetchall()
    assert [a for (a,) in amounts][1:3] == ["20.00", "0.50"]


def test_bad_date(con, tmp_path):
    customers = [list(r) for r in BASE["customers"]]
    customers[2][4] = "1950-02-30"
    folder = write_batch(tmp_path, with_rows("customers", customers))
    message = refuse(
        con, folder, r"customers\.csv: row 3 column birth_date: the value \(not quoted: personal data\) is not a date"
    )
    assert "1950-02-30" not in message


def test_manifest_file_outside_batch_folder(con, tmp_path):
    folder = write_batch(tmp_path)
    manifest = json.loads((folder / "_manifest.json").read_text())
    manifest["tables"]["branches"]["file"] = "../../etc/passwd"
    (folder / "_manifest.json").write_text(json.dumps(manifest))
    refuse(con, folder, r"table branches file '\.\./\.\./etc/passwd' is outside the batch folder")


def test_manifest_as_of_not_month_end(con, tmp_path):
    folder = write_batch(tmp_path)
    edit_manifest(folder, as_of_date="2025-10-30")
    refuse(con, folder, r"as_of_date 2025-10-30 is not the last day of a month")


def _raw_manifest(folder: Path, text: str) -> None:
    (folder / "_manifest.json").write_text(text)


def _with_table_entry(folder: Path, **entry) -> str:
    manifest = json.loads((folder / "_manifest.json").read_text())
    manifest["tables"]["branches"].update(entry)
    return json.dumps(manifest)


MANIFEST_CASES = {
    "rows as text": (lambda f: _with_table_entry(f, rows="2"), r"table 'branches': 'rows' must be a whole number"),
    "rows null": (lambda f: _with_table_entry(f, rows=None), r"table 'branches': 'rows' must be a whole number"),
    "rows fractional": (lambda f: _with_table_entry(f, rows=2.5), r"'rows' must be a whole number >= 0, got 2\.5"),
    "rows negative": (lambda f: _with_table_entry(f, rows=-1), r"'rows' must be a whole number >= 0, got -1"),
    "tables a list": (
        lambda f: json.dumps({**json.loads((f / "_manifest.json").read_text()), "tables": ["branches"]}),
        r"'tables' must be an object of table entries, not list",
    ),
    "not an object": (lambda f: "[1, 2]", r"a JSON object is expected, not a list"),
    "deep nesting": (lambda f: "[" * 200_000 + "]" * 200_000, r"nested too deeply|not valid UTF-8 JSON"),
    "table twice": (
        lambda f: (f / "_manifest.json").read_text().replace('"tables": {', '"tables": {"branches": {}, ', 1),
        r"key 'branches' appears twice",
    ),
    "unknown encoding": (
        lambda f: json.dumps({**json.loads((f / "_manifest.json").read_text()), "encoding": "latin-1"}),
        r"encoding 'latin-1' is not accepted \(utf-8 or gbk\)",
    ),
    "month of another folder": (
        lambda f: json.dumps({**json.loads((f / "_manifest.json").read_text()), "as_of_date": "2025-09-30"}),
        r"as_of_date 2025-09-30 is not in the month of its folder '2025-10'",
    ),
}


@pytest.mark.reliability("bad_input")
@pytest.mark.parametrize("case", list(MANIFEST_CASES))
def test_a_malformed_manifest_is_refused_not_a_traceback(con, tmp_path, case):
    build, message = MANIFEST_CASES[case]
    folder = write_batch(tmp_path)
    _raw_manifest(folder, build(folder))
    refuse(con, folder, message)


@pytest.mark.reliability("bad_input")
def test_a_manifest_symlink_leaving_the_batch_is_refused(con, tmp_path):
    folder = write_batch(tmp_path)
    outside = tmp_path / "elsewhere.json"
    (folder / "_manifest.json").rename(outside)
    (folder / "_manifest.json").symlink_to(outside)
    refuse(con, folder, r"a symlink to a file outside the batch folder")


def test_a_utf8_byte_order_mark_is_accepted(con, tmp_path):
    folder = write_batch(tmp_path)
    path = folder / "customers.csv"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    manifest = json.loads((folder / "_manifest.json").read_text())
    manifest["tables"]["customers"]["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    (folder / "_manifest.json").write_text(json.dumps(manifest))
    load_batch(con, folder)
    assert con.execute("select count(*) from raw.customers").fetchone()[0] == len(BASE["customers"])


# ---------------------------------------------------------------------------- quarantined rows
def test_duplicate_key_keeps_first_row(con, tmp_path):
    customers = BASE["customers"] + [
        [
            "C1",
            "张三",
            "110101198001011234",
            "13800000009",
            "1980-01-01",
            "M",
            "B01",
            "2020-01-01",
            "C5",
            "2025-02-01",
            "true",
            "2025-02-01 02:00:00",
        ]
    ]
    load_batch(con, write_batch(tmp_path, with_rows("customers", customers)))
    assert quarantined(con, "customers") == [
        (4, "duplicate_key", "customer_id", "duplicate key (C1), first seen at row 1")
    ]
    assert con.execute("select risk_level from raw.customers where customer_id = 'C1'").fetchone() == ("C3",)
    assert recon(con, "customers") == (4, 3, 1)


def test_orphan_key(con, tmp_path):
    txns = BASE["deposit_transactions"] + [
        ["T4", "A9", "2025-10-08 09:00:00", "C", "10.00", "deposit", "atm", "", "10.00"]
    ]
    load_batch(con, write_batch(tmp_path, with_rows("deposit_transactions", txns)))
    assert quarantined(con, "deposit_transactions") == [
        (4, "orphan_key", "account_id", "account_id='A9' not found in accounts")
    ]
    assert recon(con, "deposit_transactions") == (4, 3, 1)


def test_amount_not_positive(con, tmp_path):
    txns = BASE["deposit_transactions"] + [
        ["T4", "A3", "2025-10-08 09:00:00", "C", "0.00", "deposit", "atm", "", "50.00"],
        ["T5", "A3", "2025-10-09 09:00:00", "D", "-5.00", "withdrawal", "atm", "", "55.00"],
    ]
    load_batch(con, write_batch(tmp_path, with_rows("deposit_transactions", txns)))
    assert quarantined(con, "deposit_transactions") == [
        (4, "non_positive", "amount", "amount=0.00 must be > 0"),
        (5, "non_positive", "amount", "amount=-5.00 must be > 0"),
    ]
    assert recon(con, "deposit_transactions") == (5, 3, 2)


def test_unknown_product_code_cascades_to_children(con, tmp_path):
    accounts = [list(r) for r in BASE["accounts"]]
    accounts[1][2] = "XX99"  # A2 refers to a product that does not exist
    load_batch(con, write_batch(tmp_path, with_rows("accounts", accounts)))
    assert quarantined(con, "accounts") == [
        (2, "orphan_key", "product_code", "product_code='XX99' not found in products")
    ]
    # A2's transaction and balance lose their parent, so they are quarantined too (nothing dangles).
    assert quarantined(con, "deposit_transactions") == [
        (3, "orphan_key", "account_id", "account_id='A2' not found in accounts")
    ]
    assert quarantined(con, "deposit_balances") == [
        (2, "orphan_key", "account_id", "account_id='A2' not found in accounts")
    ]
    assert recon(con, "accounts") == (3, 2, 1)


def test_unknown_code(con, tmp_path):
    customers = [list(r) for r in BASE["customers"]]
    customers[1][5] = "X"
    load_batch(con, write_batch(tmp_path, with_rows("customers", customers)))
    assert quarantined(con, "customers") == [(2, "unknown_code", "gender", "gender='X' not in (M, F, U)")]
    # C2 gone -> its account, balance and complaint are orphans.
    assert recon(con, "complaints") == (1, 0, 1)


def test_unknown_currency(con, tmp_path):
    accounts = [list(r) for r in BASE["accounts"]]
    accounts[1][3] = "EUR"
    load_batch(con, write_batch(tmp_path, with_rows("accounts", accounts)))
    assert quarantined(con, "accounts") == [
        (2, "unknown_code", "currency", "currency='EUR' has no fx rate in this batch and is not CNY")
    ]


def test_future_date(con, tmp_path):
    txns = BASE["deposit_transactions"] + [
        ["T4", "A3", "2025-11-01 00:00:01", "C", "10.00", "deposit", "atm", "", "60.00"]
    ]
    load_batch(con, write_batch(tmp_path, with_rows("deposit_transactions", txns)))
    assert quarantined(con, "deposit_transactions") == [
        (4, "date_after_as_of", "txn_ts", f"txn_ts=2025-11-01 00:00:01 is after as_of_date {AS_OF}")
    ]


def test_required_value_empty(con, tmp_path):
    balances = BASE["deposit_balances"] + [["A3", AS_OF, ""]]
    load_batch(con, write_batch(tmp_path, with_rows("deposit_balances", balances)))
    assert quarantined(con, "deposit_balances") == [(4, "not_null", "ledger_balance", "ledger_balance is empty")]


def test_empty_table_file_header_only_is_valid(con, tmp_path):
    folder = write_batch(tmp_path, with_rows("complaints", []))
    assert (folder / "complaints.csv").read_text().count("\n") == 1
    result = load_batch(con, folder)
    assert result.status == "loaded"
    assert recon(con, "complaints") == (0, 0, 0)


def test_pipe_delimiter(con, tmp_path):
    load_batch(con, write_batch(tmp_path, delimiter="|"))
    assert recon(con, "customers") == (3, 3, 0)


# ---------------------------------------------------------------------------- data quality, reloads
def _breaks_found_by_the_build(schema_only: Path, tmp_path: Path, *batches: Path) -> list[tuple]:
    """Load `batches` into a copy of the session's schema-only warehouse (its dbt project already
    parsed), build the roll-forward check and what it reads (int_deposit_rollforward_breaks: dbt
    finds the breaks, on every engine; the loader loads the rows as delivered), and return the
    breaks of those batches: (batch, account, check, txn, expected, actual, difference)."""
    settings = Settings(snapshot(schema_only, tmp_path / "home"))
    con = duckdb.connect(str(settings.warehouse_path))
    try:
        ids = [load_batch(con, folder).batch_id for folder in batches]
        # reported, not fixed and not quarantined: every delivered row was loaded
        quarantined_rows = "select count(*) from raw._quarantine where batch_id in (select unnest(?))"
        assert con.execute(quarantined_rows, [ids]).fetchone()[0] == 0
    finally:
        con.close()
    built = settings.run_dbt("run", "--select", "+int_deposit_rollforward_breaks")
    assert built.returncode == 0, built.stdout[-3000:]
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        rows = con.execute(
            "select batch_id, account_id, check_name, txn_id, expected_balance, actual_balance, balance_difference "
            "from intermediate.int_deposit_rollforward_breaks where batch_id in (select unnest(?)) "
            "order by batch_id, account_id, check_name",
            [ids],
        ).fetchall()
    return [(r[0], r[1], r[2], r[3], str(r[4]), str(r[5]), str(r[6])) for r in rows]


def test_rollforward_break_is_reported_not_fixed(schema_only, tmp_path):
    txns = [list(r) for r in BASE["deposit_transactions"]]
    txns[1][8] = "1299.00"  # 1500.00 - 200.00 should be 1300.00
    folder = write_batch(tmp_path, with_rows("deposit_transactions", txns))
    assert _breaks_found_by_the_build(schema_only, tmp_path, folder) == [
        ("2025-10", "A1", "balance_after_chain", "T2", "1300.00", "1299.00", "-1.00"),
        ("2025-10", "A1", "last_txn_vs_month_end", "T2", "1299.00", "1300.00", "1.00"),
    ]
    # Reported, not fixed: the row is loaded as delivered.
    with duckdb.connect(str(Settings(tmp_path / "home").warehouse_path), read_only=True) as con:
        assert con.execute("select balance_after from raw.deposit_transactions where txn_id = 'T2'").fetchone()[0] == (
            pytest.approx(1299)
        )


def test_month_rollforward_against_previous_batch(schema_only, tmp_path):
    october = write_batch(tmp_path)
    november = with_rows(
        "deposit_balances",
        [["A1", "2025-11-30", "1400.00"], ["A2", "2025-11-30", "100.00"], ["A3", "2025-11-30", "50.00"]],
    )
    november["deposit_transactions"] = [
        ["T9", "A1", "2025-11-03 10:00:00", "C", "50.00", "deposit", "counter", "", "1350.00"]
    ]
    november["product_holdings"] = []
    november["fx_rates"] = [["USD", "2025-11-30", "7.050000"]]
    folder = write_batch(tmp_path, november, batch_id="2025-11", as_of="2025-11-30")
    # October rolls forward; Oct 1300.00 + 50.00 = 1350.00 but November reports 1400.00.
    assert _breaks_found_by_the_build(schema_only, tmp_path, october, folder) == [
        ("2025-11", "A1", "last_txn_vs_month_end", "T9", "1350.00", "1400.00", "50.00"),
        ("2025-11", "A1", "month_rollforward", None, "1350.00", "1400.00", "50.00"),
    ]


def test_same_batch_twice_changes_nothing(con, tmp_path):
    folder = write_batch(tmp_path)
    load_batch(con, folder)
    before = con.execute("select * from raw._load_batches").fetchall()
    result = load_batch(con, folder)
    assert result.status == "unchanged"
    assert con.execute("select * from raw._load_batches").fetchall() == before
    assert con.execute("select count(*) from raw.customers").fetchone()[0] == 3


def test_redelivered_batch_replaces_it(con, tmp_path):
    load_batch(con, write_batch(tmp_path))
    fixed = with_rows("deposit_balances", [["A1", AS_OF, "1300.00"], ["A2", AS_OF, "100.00"]])
    result = load_batch(con, write_batch(tmp_path / "again", fixed))
    assert result.status == "replaced"
    assert con.execute("select count(*) from raw.deposit_balances").fetchone()[0] == 2
    assert con.execute("select revision from raw._load_batches").fetchone() == (2,)


def test_refused_redelivery_keeps_previous_load(con, tmp_path):
    load_batch(con, write_batch(tmp_path))
    broken = write_batch(tmp_path / "again")
    (broken / "customers.csv").write_text("customer_id\n")
    reseal(broken, "customers")
    with pytest.raises(BatchRefused):
        load_batch(con, broken)
    assert con.execute("select count(*) from raw.customers").fetchone()[0] == 3


def test_reconciliation_identity_holds_for_every_table(con, tmp_path):
    txns = BASE["deposit_transactions"] + [
        ["T4", "A9", "2025-10-08 09:00:00", "C", "1.00", "deposit", "atm", "", "1.00"]
    ]
    load_batch(con, write_batch(tmp_path, with_rows("deposit_transactions", txns)))
    rows = con.execute("select table_name, rows_delivered, rows_loaded, rows_quarantined from raw._load_reconciliation")
    rows = rows.fetchall()
    assert len(rows) == 11
    for table, delivered, loaded, quarantine in rows:
        assert delivered == loaded + quarantine, table
        landed = con.execute(f"select count(*) from raw.{table}").fetchone()[0]
        assert landed == loaded, table
