"""The segment explorer (`tierwise explore`) in a real browser: the test starts the Streamlit app
on a copy of the golden bank's publication, drives Debian's Chromium through Playwright (no
browser download: `executable_path`), and checks that each page shows the marts' numbers (the
hand-worked values of fixtures/golden_expected.py), that the what-if moves the customers worked
out by hand below, and that no page carries personal data. Screenshots of each page land in
the test's folder; with TIERWISE_SCREENSHOTS=DIR they are also written there (the README's are
docs/images/explorer_*.png, taken this way).

Its own app process on a copy of the golden warehouse: the what-if writes a scratch folder
into the home, and the session's states are shared read-only."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import golden_expected as exp
import pytest
from pii import leaks
from tierwise.cli import explorer_command
from tierwise.config import Settings
from tierwise.safe_text import markdown_text
from tierwise.whatif import WhatIfError, what_if
from warehouses import snapshot

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def explorer(golden_sequential, tmp_path_factory):
    home = snapshot(golden_sequential, tmp_path_factory.mktemp("explorer") / "home")
    port = _free_port()
    log = open(home / "explorer.log", "wb")  # noqa: SIM115 - the app writes it
    env = {**os.environ, "TIERWISE_HOME": str(home)}
    app = subprocess.Popen(explorer_command(port), env=env, stdout=log, stderr=subprocess.STDOUT,
                           start_new_session=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
                if reply.status == 200:
                    break
        except OSError:
            pass
        if app.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the explorer did not start:\n" + (home / "explorer.log").read_text()[-3000:])
        time.sleep(0.3)
    try:
        yield url, home
    finally:
        app.terminate()
        app.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def browser():
    assert CHROMIUM, "Chromium is not installed: `make sysdeps` installs it (Debian package chromium)"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def _settled(page) -> None:
    """The script run is over: Streamlit shows its status widget while it runs."""
    page.wait_for_selector("[data-testid='stHeading']", timeout=60000)
    deadline, last = time.monotonic() + 120, None
    while True:  # no run in progress, and the page unchanged over 0.4 s (a rerun may start late)
        page.wait_for_timeout(400)
        running = page.query_selector("[data-testid='stStatusWidget']") is not None
        text = page.inner_text("body")
        if not running and text == last:
            break
        assert time.monotonic() < deadline, "the explorer page did not settle in 120 s"
        last = text
    errors = [e.inner_text() for e in page.query_selector_all("[data-testid='stException']")]
    assert errors == [], errors[0][:3000] if errors else ""


def _pick(page, label: str, option: str) -> None:
    box = page.get_by_label(label).first  # a combobox: the arrow key opens its list
    box.click()
    box.press("ArrowDown")
    page.get_by_role("option", name=option, exact=True).click()
    _settled(page)


def _rows(page, index: int) -> list[list[str]]:
    """The body rows of the index-th table on the page, cell texts."""
    table = page.query_selector_all("[data-testid='stTable'] table")[index]
    rows = table.query_selector_all("tbody tr")
    return [[c.inner_text().strip() for c in r.query_selector_all("td, th")] for r in rows]


def _shot(page, tmp_path: Path, name: str) -> None:
    path = tmp_path / f"explorer_{name}.png"
    page.screenshot(path=str(path))
    target = os.environ.get("TIERWISE_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, Path(target) / path.name)


def _money(value) -> str:
    return f"{float(value):,.2f}"


def test_every_page_shows_the_marts_numbers_without_personal_data(explorer, browser, tmp_path):
    url, _ = explorer
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    seen = []

    # Overview: the bank-wide table, one row a month, hand-worked customers and AUM
    page.goto(url)
    _settled(page)
    bank = {row[0]: row for row in _rows(page, 0)}
    for month, want in exp.BANK_KPIS.items():
        assert bank[month][1] == f"{want[0]:,}" and bank[month][2] == _money(want[1]), (month, bank[month])
    # the May migration matrix and its drill-down: G08 left gold in May (20,526,500 ... KPIS)
    _pick(page, "Month", exp.M[4])
    _pick(page, "Last month's tier", "Gold")
    _pick(page, "This month's tier", "Left")
    cell = _rows(page, 3)
    assert [r[0] for r in cell] == ["G08"] and cell[0][1] == "周*" and cell[0][4] == _money(70000)
    _shot(page, tmp_path, "overview")
    seen.append(page.inner_text("body"))

    # Chinese: the same page in the other language
    page.get_by_text("中文").click()
    _settled(page)
    assert "总览" in page.inner_text("body") and "金卡客户" in page.inner_text("body")
    seen.append(page.inner_text("body"))
    page.get_by_text("English").click()
    _settled(page)

    # Watchlist (June): G13 alone, its reasons in words, its AUM
    page.goto(f"{url}/watchlist")
    _settled(page)
    rows = _rows(page, 0)
    june = sorted(c for c, m in exp.WATCHLIST if m == exp.M[5])
    assert [r[0] for r in rows] == june
    assert rows[0][1] == "郑*" and rows[0][7] == _money(200000) and "Complaints" in rows[0][6]
    with page.expect_download() as download:
        page.get_by_text("Download CSV").click()
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert text.splitlines()[1].startswith("G13,郑*,B01,RM2,")
    _shot(page, tmp_path, "watchlist")
    seen.append(page.inner_text("body") + text)

    # Customer 360: G13's six months, on watch one then two months in May and June
    page.goto(f"{url}/customer")
    _settled(page)
    _pick(page, "Customer id", "G13")
    months = _rows(page, 1)
    assert [r[0] for r in months] == exp.M
    path = exp.TIERS["G13"]["path"]
    assert [r[3] for r in months] == [str(p[4]) for p in path]  # months below the held tier
    assert [r[1] for r in months] == ["Platinum"] * 6
    _shot(page, tmp_path, "customer")
    seen.append(page.inner_text("body"))

    # What-if: May under gold from 60,000 and a one-month grace (hand-worked in the test below)
    page.goto(f"{url}/what_if")
    _settled(page)
    _pick(page, "Month", exp.M[4])
    page.get_by_label("Gold").fill("60000")
    page.get_by_label("Downgrade grace (months)").fill("1")
    page.get_by_role("button", name="Run the what-if").click()
    page.wait_for_selector("text=would move", timeout=120000)
    _settled(page)
    body = page.inner_text("body")
    assert "3 customers, AUM 650,000.00 CNY would move" in body
    held = _rows(page, 0)
    assert sorted((r[0], r[1], r[2], r[3]) for r in held) == [
        ("Diamond", "Gold", "1", _money(400000)), ("Gold", "Mass", "1", _money(50000)),
        ("Platinum", "Gold", "1", _money(200000)),
    ]  # fmt: skip
    assert "top tier (Private banking): 1 customers; at 30 per private banker 1 needed, 1 now" in body
    page.set_viewport_size({"width": 1400, "height": 1800})
    _shot(page, tmp_path, "what_if")
    seen.append(body)
    page.close()

    for text in seen:
        assert leaks(text) == []


def test_what_if_moves_the_hand_worked_customers_and_refuses_bad_rules(golden_sequential, tmp_path):
    """May 2025 with gold from 60,000 and the downgrade after one month below (instead of 3):
    - raw tiers: G11 (50,000) falls from gold to mass; G02 (60,000) stays gold;
    - held tiers, grace 1: G11 gold -> mass, G13 platinum -> gold (raw gold at 200,000, held
      platinum on watch), G03 diamond -> gold (raw gold at 400,000): 3 customers, 650,000 CNY;
    - distribution: mass 6, gold 5, platinum 0, diamond 0, private 1 (G04), 12 customers;
    - the top tier (private) needs ceil(1 / 30) = 1 private banker; RM1 is the one there is.
    The build database and the publication are untouched."""
    home = snapshot(golden_sequential, tmp_path / "home")
    settings = Settings(home)
    before = {p: p.stat().st_mtime_ns for p in (settings.warehouse_path, home / "serving" / "serving.duckdb")}
    result = what_if(settings, "2025-05", {"gold": "60000"}, 1)
    held = {(r.from_tier, r.to_tier): (r.customers, r.aum_cny) for r in result.held_moves.itertuples()}
    assert held == {("diamond", "gold"): (1, 400000), ("gold", "mass"): (1, 50000), ("platinum", "gold"): (1, 200000)}
    raw = {(r.from_tier, r.to_tier): (r.customers, r.aum_cny) for r in result.raw_moves.itertuples()}
    assert raw == {("gold", "mass"): (1, 50000)}
    assert (result.customers_moving, result.aum_moving_cny) == (3, 650000)
    counts = dict(zip(result.distribution["tier"], result.distribution["customers_what_if"], strict=True))
    assert counts == {"mass": 6, "gold": 5, "platinum": 0, "diamond": 0, "private": 1}
    assert (result.top_tier, result.top_tier_customers, result.banker_capacity) == ("private", 1, 30)
    assert (result.bankers_needed, result.bankers_now) == (1, 1)
    assert {p: p.stat().st_mtime_ns for p in before} == before
    assert not any((home / "what_if").iterdir())  # the scratch copy is gone
    for bad, message in (({"gold": "6o000"}, "not a number"), ({"golden": "1"}, "unknown tier")):
        with pytest.raises(WhatIfError, match=message):
            what_if(settings, "2025-05", bad, None)
    with pytest.raises(WhatIfError, match="at least 1 month"):
        what_if(settings, "2025-05", None, 0)


def test_text_in_headings_and_messages_shows_as_typed():
    # what the explorer puts in a heading or a message: no link, image or emphasis can form
    assert markdown_text("G1](http://x) ![i](y) *b*") == "G1\\]\\(http://x\\) \\!\\[i\\]\\(y\\) \\*b\\*"
    assert markdown_text("张* · G13") == "张\\* · G13"


if __name__ == "__main__":  # pragma: no cover - `python tests/test_explorer.py` runs the browser test
    sys.exit(pytest.main([__file__, "-k", "every_page"]))
