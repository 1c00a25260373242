"""The monthly review (HTML, PDF, Excel; zh and en) of the golden bank's May, rendered by the
Dagster report asset during the golden refresh: every number equals the marts (and the
hand-worked figures where the fixture has them), no PII, PDFs rasterise with CJK glyphs."""

from __future__ import annotations

import math
import re
import subprocess
from decimal import Decimal

import duckdb
import golden_expected as exp
import numpy as np
import openpyxl
import pytest
from golden_bank import CUSTOMERS
from lxml import html as lxml_html
from tierwise.cli import main
from tierwise.config import Settings
from tierwise.publish import current_release_db
from tierwise.reporting import default_formats
from tierwise.reporting.data import blocked_rule, lorenz_curve
from tierwise.reporting.words import Words, _all_labels
from warehouses import snapshot

MONTH = "2025-05"
DAY = exp.M[4]
LANGS = ("zh", "en")


@pytest.fixture(scope="module")
def home(golden_sequential):
    return golden_sequential


@pytest.fixture(scope="module")
def marts(home):
    con = duckdb.connect(str(current_release_db(Settings(home=home))), read_only=True)
    yield con
    con.close()


def _file(home, lang, fmt):
    return home / "reports" / MONTH / f"monthly_review.{lang}.{fmt}"


def _tables(path) -> dict[str, list[list[str]]]:
    """Every <table id=...> of the HTML as rows of cell texts (header row first)."""
    doc = lxml_html.fromstring(path.read_text(encoding="utf-8"))
    return {
        t.get("id"): [[c.text_content().strip() for c in tr.xpath("./th|./td")] for tr in t.xpath(".//tr")]
        for t in doc.xpath("//table[@id]")
    }


def _num(text: str) -> float:
    return float(text.replace(",", "").replace("%", "").replace("pp", "").strip())


def _q(con, sql, params=()):
    return con.execute(sql, list(params)).fetchall()


# ------------------------------------------------------------------ pure parts, hand-checked
def _trapezoid_gini(curve) -> float:
    x, y = curve["population_share"].to_numpy(), curve["aum_share"].to_numpy()
    return float(1 - ((x[1:] - x[:-1]) * (y[1:] + y[:-1])).sum())


def test_concentration_on_hand_made_numbers():
    # The review prints rpt_bank_kpis' top shares and Gini (unit-tested in dbt and on the golden
    # bank); it draws the Lorenz curve itself. One customer holds everything: the curve stays at 0
    # until the last customer; 1 - 2 * area = 1 - (3/4 * 0 + 1/4 * 1) = 0.75 = the mart's formula
    # 2*(4*100)/(4*100) - 5/4.
    one = lorenz_curve(np.array([0, 0, 0, 100]))
    assert list(one["population_share"]) == [0, 0.25, 0.5, 0.75, 1.0]
    assert list(one["aum_share"]) == [0, 0, 0, 0, 1.0]
    assert _trapezoid_gini(one) == pytest.approx(0.75)
    assert _trapezoid_gini(lorenz_curve(np.array([5, 5, 5, 5]))) == pytest.approx(0.0)
    # Negative AUM counts as 0, as in the mart: [-50, 50, 150] -> [0, 50, 150]; Gini 0.5
    clipped = lorenz_curve(np.array([-50, 50, 150]))
    assert list(clipped["aum_share"]) == pytest.approx([0, 0, 0.25, 1.0])
    assert _trapezoid_gini(clipped) == pytest.approx(2 * (1 * 0 + 2 * 50 + 3 * 150) / (3 * 200) - 4 / 3)
    # a long tail is thinned to about 200 points, both ends kept
    long = lorenz_curve(np.arange(1000))
    assert len(long) <= 200 and long.iloc[0].tolist() == [0, 0] and long.iloc[-1].tolist() == [1, 1]


def test_blocked_rules_read_every_reason_part():
    # fct_cross_sell.refusal_codes, not its prose reason: codes are read, never parsed from words
    assert blocked_rule("missing_assessment") == ["missing_assessment"]
    assert blocked_rule("under_age,expired_assessment") == ["under_age", "expired_assessment"]
    assert blocked_rule("risk_mismatch,insufficient_funds") == ["risk_mismatch", "insufficient_funds"]
    assert blocked_rule("a_new_rule") == ["other"] and blocked_rule("") == []
    assert blocked_rule("something new") == ["other"]


def test_report_formats_setting(monkeypatch):
    monkeypatch.delenv("TIERWISE_REPORT_FORMATS", raising=False)
    assert default_formats() == ["html", "pdf", "xlsx"]
    monkeypatch.setenv("TIERWISE_REPORT_FORMATS", " html, xlsx ")
    assert default_formats() == ["html", "xlsx"]
    for bad in ("html,docx", ",", "PDF"):
        monkeypatch.setenv("TIERWISE_REPORT_FORMATS", bad)
        with pytest.raises(ValueError, match="TIERWISE_REPORT_FORMATS"):
            default_formats()


def test_both_languages_have_the_same_words():
    labels = _all_labels()
    assert set(labels["zh"]) == set(labels["en"])
    for key, value in labels["zh"].items():
        if isinstance(value, dict):
            assert set(value) == set(labels["en"][key]), key
    with pytest.raises(ValueError, match="language must be one of"):
        Words("fr")


# ------------------------------------------------------------------ the golden bank's May
@pytest.mark.parametrize("lang", LANGS)
def test_html_numbers_equal_the_marts(home, marts, lang):
    tables = _tables(_file(home, lang, "html"))
    w = Words(lang, None)
    # Headline: customers and AUM (hand-worked: 12 customers, 12,997,500.00), then vs the marts.
    headline = {row[0]: row for row in tables["headline"][1:]}
    customers, aum = _q(
        marts,
        "select count(*), sum(m.aum_cny) from marts.fct_customer_tier t join marts.fct_customer_month m "
        "on m.customer_id = t.customer_id and m.as_of_date = t.as_of_date where t.as_of_date = ?",
        [DAY],
    )[0]
    assert (customers, aum) == (12, Decimal("12997500.00"))
    assert headline[w("customers")][1] == "12" and headline[w("aum")][1] == "12,997,500.00"
    last_customers = _q(marts, "select count(*) from marts.fct_customer_tier where as_of_date = ?", [exp.M[3]])[0][0]
    assert _num(headline[w("customers")][3]) == customers - last_customers
    # Customer retention: April's customers still on book in May.
    kept = _q(
        marts,
        "select count(m.customer_id) * 1.0 / count(*) from marts.fct_customer_tier a "
        "left join marts.fct_customer_tier m on m.customer_id = a.customer_id and m.as_of_date = ? "
        "where a.as_of_date = ?",
        [DAY, exp.M[3]],
    )[0][0]
    assert headline[w("customer_retention")][1] == f"{kept:.1%}"

    # Tier table = rpt_tier_kpis, row by row, and the hand-worked KPIs.
    kpis = _q(
        marts,
        "select tier, customers, aum_cny, aum_share from marts.rpt_tier_kpis where as_of_date = ? order by tier_rank",
        [DAY],
    )
    rows = tables["tiers"][1:]
    names = dict(_q(marts, f"select tier, name_{lang} from marts.dim_tier_thresholds"))
    assert [r[0] for r in rows] == [names[k[0]] for k in kpis]
    for row, (tier, n, tier_aum, share) in zip(rows, kpis, strict=True):
        assert row[1] == f"{n:,}" and row[3] == f"{tier_aum:,.2f}" and row[5] == f"{share:.1%}", tier
        hand = exp.KPIS[DAY][tier]
        assert (n, float(tier_aum)) == (hand[0], hand[1]), tier

    # Concentration, from the hand-worked May AUM of every customer on book (negative -> 0).
    values = sorted(
        max(spec.get("months", {}).get(DAY, spec["default"])["aum_cny"], 0)
        for spec in exp.CUSTOMER_MONTH.values()
        if DAY in spec["on_book"]
    )
    total, n = sum(values), len(values)
    top1 = sum(values[-math.ceil(0.01 * n) :]) / total
    top10 = sum(values[-math.ceil(0.10 * n) :]) / total
    gini = 2 * sum(i * v for i, v in enumerate(values, start=1)) / (n * total) - (n + 1) / n
    conc = {row[0]: row[1] for row in tables["concentration"][1:]}
    assert conc[w("top1")] == f"{top1:.1%}" and conc[w("top10")] == f"{top10:.1%}"
    assert conc[w("gini")] == f"{gini:.3f}"

    # Migration matrix: every cell = fct_tier_migration (hand-worked in golden_expected).
    matrix = tables["migration"]
    header, cells = matrix[0], {row[0]: row for row in matrix[1:]}
    label = {**names, "none": w("none"), "left": w("left")}
    for (month, source, target), (moved, _) in exp.MIGRATION.items():
        if month == DAY:
            assert cells[label[source]][header.index(label[target])] == str(moved), (source, target)
    total_cells = sum(_num(c) for row in matrix[1:] for c in row[1:])
    assert (
        total_cells
        == _q(marts, "select sum(customers) from marts.fct_tier_migration where as_of_date = ?", [DAY])[0][0]
    )

    # Watchlist: exactly the high-band customers of tier rank >= 3 (G13), masked name only.
    expected = _q(
        marts,
        "select customer_id from marts.fct_churn_signals where as_of_date = ? and risk_band = 'high' "
        "and tier_rank >= 3 order by customer_id",
        [DAY],
    )
    assert [r[0] for r in tables["watchlist"][1:]] == [e[0] for e in expected] == ["G13"]
    assert tables["watchlist"][1][1].endswith("*")

    # Cross-sell blocked total, RM books, reconciliation totals.
    blocked = _q(marts, "select count(*) from marts.fct_cross_sell where as_of_date = ? and not suitable", [DAY])[0][0]
    assert tables["blocked"][-1][1] == f"{blocked:,}"
    suitable = _q(marts, "select count(*) from marts.fct_cross_sell where as_of_date = ? and suitable", [DAY])[0][0]
    assert sum(_num(c) for row in tables["cross_sell_matrix"][1:] for c in row[1:]) == suitable
    rms = _q(marts, "select rm_id, clients from marts.fct_rm_book where as_of_date = ? order by rm_id", [DAY])
    assert sorted((r[0], int(_num(r[3]))) for r in tables["rm_books"][1:]) == rms
    delivered, loaded, quarantined = _q(
        marts,
        "select sum(rows_delivered), sum(rows_loaded), sum(rows_quarantined) from marts.rpt_load_reconciliation "
        "where as_of_date = ?",
        [DAY],
    )[0]
    assert tables["reconciliation"][-1][2:] == [f"{delivered:,}", f"{loaded:,}", f"{quarantined:,}"]
    assert delivered == loaded + quarantined > 0
    # Test results of the run that built May: all passed on the clean golden bank.
    assert [row[1] for row in tables["test_summary"][1:]] == ["pass"] * (len(tables["test_summary"]) - 1)


@pytest.mark.parametrize("lang", LANGS)
def test_excel_workbook_equals_the_marts_and_is_formatted(home, marts, lang):
    wb = openpyxl.load_workbook(_file(home, lang, "xlsx"))
    w = Words(lang, None)
    summary = wb[w("workbook_summary")]
    cells = {(c.row, c.column): c for row in summary.iter_rows() for c in row}
    # Find the tier table by its heading row and read the numbers back as numbers.
    start = next(r for (r, col), c in cells.items() if col == 1 and c.value == w("s2"))
    header = [summary.cell(start + 1, col).value for col in range(1, 13)]
    assert header[1] == w("customers") and summary.cell(start + 1, 1).font.bold
    kpis = _q(
        marts,
        "select customers, aum_cny, aum_share from marts.rpt_tier_kpis where as_of_date = ? order by tier_rank",
        [DAY],
    )
    for offset, (n, tier_aum, share) in enumerate(kpis, start=2):
        row = start + offset
        assert summary.cell(row, 2).value == n
        assert summary.cell(row, 4).value == pytest.approx(float(tier_aum), abs=0.005)
        assert summary.cell(row, 4).number_format == "#,##0.00"
        assert summary.cell(row, 6).value == pytest.approx(share) and summary.cell(row, 6).number_format == "0.0%"
    # One watchlist sheet per branch of a watchlist customer, with a frozen header and filters.
    watch = _q(
        marts,
        "select s.customer_id, d.home_branch_id from marts.fct_churn_signals s "
        "left join marts.dim_customers d on d.customer_id = s.customer_id "
        "where s.as_of_date = ? and s.risk_band = 'high' and s.tier_rank >= 3",
        [DAY],
    )
    sheets = [name for name in wb.sheetnames if name.startswith(w("workbook_watchlist"))]
    assert sheets == [f"{w('workbook_watchlist')} {branch}" for branch in sorted({b for _, b in watch})]
    for name in sheets:
        ws = wb[name]
        assert ws.freeze_panes == "A2" and ws.auto_filter.ref.startswith("A1:")
        branch = name.split(" ", 1)[1]
        listed = [ws.cell(r, 1).value for r in range(2, ws.max_row + 1)]
        assert listed == [c for c, b in watch if b == branch]
        assert isinstance(ws.cell(2, 4).value, int | float)  # AUM stays a number


def test_no_pii_in_any_report_file(home):
    names = [c[1] for c in CUSTOMERS]
    id_numbers = [c[2] for c in CUSTOMERS]
    phones = [c[3] for c in CUSTOMERS]
    id_pattern = re.compile(r"(?<![0-9A-Za-z.])\d{17}[\dXx](?![0-9A-Za-z])")
    phone_pattern = re.compile(r"(?<![0-9A-Za-z.])1\d{10}(?![0-9A-Za-z])")
    files = sorted((home / "reports").rglob("monthly_review.*"))
    assert len(files) >= 6 * 6  # 6 months x 2 languages x 3 formats
    for path in files:
        if path.suffix == ".pdf":
            text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
        elif path.suffix == ".xlsx":
            wb = openpyxl.load_workbook(path)
            text = "\n".join(str(c.value) for ws in wb for row in ws.iter_rows() for c in row if c.value is not None)
        else:
            text = path.read_text(encoding="utf-8")
        assert text.strip(), path
        for value in (*names, *id_numbers, *phones):
            assert value not in text, (path, value)
        assert not id_pattern.search(text) and not phone_pattern.search(text), path


@pytest.mark.parametrize(("lang", "title"), [("zh", "客户分层月度回顾"), ("en", "Monthly tier review")])
def test_pdf_pages_rasterise_with_cjk_glyphs(home, tmp_path, lang, title):
    pdf = _file(home, lang, "pdf")
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert "CJK" in fonts  # the Noto CJK font is embedded, not borrowed from the machine
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert title in text and ("白金客户" in text if lang == "zh" else "Platinum" in text)
    subprocess.run(["pdftoppm", "-r", "30", "-png", str(pdf), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert pages
    from PIL import Image

    for page in pages:
        pixels = np.asarray(Image.open(page).convert("L"))
        assert (pixels < 200).mean() > 0.005, page  # ink on every page


def test_report_command_renders_one_language_and_refuses_an_unpublished_month(home, tmp_path, monkeypatch, capsys):
    home = snapshot(home, tmp_path / "home")  # the command writes the report
    monkeypatch.setenv("TIERWISE_HOME", str(home))
    target = _file(home, "en", "html")
    before = target.stat().st_mtime_ns
    assert main(["report", "--month", MONTH, "--lang", "en", "--format", "html"]) == 0
    out = capsys.readouterr().out
    assert str(target) in out and "monthly_review.zh" not in out
    assert target.stat().st_mtime_ns > before
    assert main(["report", "--month", "2024-01"]) == 1
    assert "no tiers published for 2024-01" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["report", "--month", "2025-13"])


def test_the_report_watchlist_is_the_marts_flag(home, tmp_path):
    """The report lists the customers fct_churn_signals flags is_watchlist, whatever rule set the
    flag (a bank may raise watchlist_min_tier_rank): here the flag is flipped for one customer each
    way in a copy of the release, and the report follows the mart, not a formula of its own."""
    import shutil

    from tierwise.reporting.data import load_review

    release = tmp_path / "release.duckdb"
    shutil.copy(current_release_db(Settings(home=home)), release)
    con = duckdb.connect(str(release))
    day, month = _q(
        con,
        "select as_of_date, strftime(as_of_date, '%Y-%m') from marts.fct_churn_signals "
        "group by all having bool_or(is_watchlist) order by 1 limit 1",
    )[0]
    flagged = {
        r[0]
        for r in _q(con, "select customer_id from marts.fct_churn_signals where as_of_date = ? and is_watchlist", [day])
    }
    others = sorted(
        r[0]
        for r in _q(
            con, "select customer_id from marts.fct_churn_signals where as_of_date = ? and not is_watchlist", [day]
        )
    )
    assert flagged and others, "the golden month needs customers on and off the watchlist"
    dropped, added = sorted(flagged)[0], others[0]
    con.execute(
        "update marts.fct_churn_signals set is_watchlist = not is_watchlist "
        "where as_of_date = ? and customer_id in (?, ?)",
        [day, dropped, added],
    )
    expected = {
        r[0]
        for r in _q(con, "select customer_id from marts.fct_churn_signals where as_of_date = ? and is_watchlist", [day])
    }
    con.close()
    review = load_review(release, month)
    assert set(review.watchlist["customer_id"]) == expected
    assert added in expected and dropped not in expected


def test_languages_rendered_at_once_equal_languages_rendered_one_after_the_other(home, tmp_path, monkeypatch):
    """The review renders the second language in a worker process beside the first (the default on
    more than one core): the files equal those of a render in this process alone, cell for cell."""
    from tierwise.reporting import render_review

    serving = current_release_db(Settings(home=home))
    rendered = {}
    for workers in ("1", "2"):
        monkeypatch.setenv("TIERWISE_REPORT_WORKERS", workers)
        files = render_review(serving, MONTH, tmp_path / workers, formats=["html", "xlsx"])
        assert sorted(files.files) == sorted((lang, fmt) for lang in LANGS for fmt in ("html", "xlsx"))
        rendered[workers] = files
    for (lang, fmt), path in rendered["1"].files.items():
        other = rendered["2"].files[(lang, fmt)]
        if fmt == "html":
            assert path.read_text(encoding="utf-8") == other.read_text(encoding="utf-8"), lang
            continue
        one, two = openpyxl.load_workbook(path), openpyxl.load_workbook(other)
        assert one.sheetnames == two.sheetnames and len(one.sheetnames) > 3
        for a, b in zip(one.worksheets, two.worksheets, strict=True):
            assert [[c.value for c in r] for r in a.iter_rows()] == [[c.value for c in r] for r in b.iter_rows()]
    monkeypatch.setenv("TIERWISE_REPORT_WORKERS", "0")
    with pytest.raises(ValueError, match="TIERWISE_REPORT_WORKERS '0'"):
        render_review(serving, MONTH, tmp_path / "0", formats=["html"])
