"""A synthetic retail bank, simulated month by month with vectorised numpy.

Money is carried as integer cents (int64) so ledgers add up exactly; every deposit event
of a month goes through one engine (`_post_events`) that applies events in timestamp order
per account, so each `balance_after` continues the previous one and month-end balances
roll forward. Wealth is log-normal (sigma 2.7): the top ~2.5% of customers hold ~75-80% of
AUM, and every tier is populated at 10k customers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from tierwise.generator import catalog

DAY = np.timedelta64(1, "D")
SEC_PER_DAY = 86_400

# Event kinds of the posting engine.
CREDIT_ABS, DEBIT_FRAC, DEBIT_ABS, INTEREST = 0, 1, 2, 3
TXN_TYPES = ("deposit", "withdrawal", "transfer_in", "transfer_out", "interest", "fee", "maturity_payout")
CHANNELS = ("counter", "atm", "mobile", "online", "auto")
T_DEPOSIT, T_WITHDRAWAL, T_TIN, T_TOUT, T_INTEREST, T_FEE, T_PAYOUT = range(7)
C_COUNTER, C_ATM, C_MOBILE, C_ONLINE, C_AUTO = range(5)


@dataclass(frozen=True)
class BankSpec:
    customers: int
    months: int
    end_month: str  # YYYY-MM
    seed: int


@dataclass
class MonthBatch:
    """All 11 landing tables of one month, as Arrow tables in contract column order."""

    month: str
    as_of_date: np.datetime64
    tables: dict[str, pa.Table]


def month_bounds(month: np.datetime64) -> tuple[np.datetime64, np.datetime64]:
    """First and last day of a datetime64[M] month."""
    start = month.astype("datetime64[D]")
    end = (month + 1).astype("datetime64[D]") - DAY
    return start, end


def _cents_to_decimal(cents: np.ndarray) -> pa.Array:
    """int64 cents -> decimal128(18, 2) without any float rounding."""
    cents = np.ascontiguousarray(cents, dtype=np.int64)
    words = np.empty((len(cents), 2), dtype=np.int64)
    words[:, 0] = cents
    words[:, 1] = np.where(cents < 0, -1, 0)
    return pa.Array.from_buffers(pa.decimal128(18, 2), len(cents), [None, pa.py_buffer(words.tobytes())])


def _money(cents: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    arr = _cents_to_decimal(cents)
    if valid is None:
        return arr
    return pa.compute.if_else(pa.array(valid), arr, pa.scalar(None, pa.decimal128(18, 2)))


def _dates(days: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    mask = None if valid is None else ~np.asarray(valid)
    return pa.array(days.astype("datetime64[D]"), type=pa.date32(), mask=mask)


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    return pa.array([f"{prefix}{n:0{width}d}" for n in numbers.tolist()], type=pa.string())


def _pick(values: tuple[str, ...], codes: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    dictionary = pa.array(values, type=pa.string())
    arr = pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), dictionary).cast(pa.string())
    if valid is None:
        return arr
    return pa.compute.if_else(pa.array(valid), arr, pa.scalar(None, pa.string()))


def _add_months(days: np.ndarray, months: np.ndarray) -> np.ndarray:
    """Calendar month arithmetic on datetime64[D] arrays (day clipped to month end)."""
    m = days.astype("datetime64[M]")
    day_of_month = (days - m.astype("datetime64[D]")).astype(np.int64)
    target = m + months.astype("timedelta64[M]")
    last = ((target + 1).astype("datetime64[D]") - DAY - target.astype("datetime64[D]")).astype(np.int64)
    return target.astype("datetime64[D]") + np.minimum(day_of_month, last).astype("timedelta64[D]")


class SyntheticBank:
    """Draws the bank's static population, then yields one MonthBatch per month."""

    def __init__(self, spec: BankSpec, progress: Callable[[str], None] = lambda _m: None):
        self.spec = spec
        self.progress = progress
        self.rng = np.random.default_rng(spec.seed)
        end = np.datetime64(spec.end_month, "M")
        self.months = np.arange(end - (spec.months - 1), end + 1)
        self.h0, _ = month_bounds(self.months[0])
        _, self.h_end = month_bounds(self.months[-1])
        self._branches()
        self._products()
        self._customers()
        self._relationship_managers()
        self._accounts()
        self._holdings()
        self._fx()
        self.balance = self.acct_initial.copy()
        self.txn_seq = 0
        self.complaint_seq = 0

    # ------------------------------------------------------------------ static population
    def _branches(self) -> None:
        n = int(np.clip(self.spec.customers // 4000, 4, 300))
        city = np.arange(n) % len(catalog.CITIES)
        self.n_branches = n
        self.branch_city = city
        self.branch_table = pa.table(
            {
                "branch_id": _ids("B", np.arange(1, n + 1), 4),
                "branch_name": pa.array(
                    [f"{catalog.CITIES[c][0]}第{i // len(catalog.CITIES) + 1}支行" for i, c in enumerate(city)]
                ),
                "city": pa.array([catalog.CITIES[c][0] for c in city]),
                "region": pa.array([catalog.CITIES[c][1] for c in city]),
            }
        )

    def _products(self) -> None:
        p = catalog.PRODUCTS
        self.prod_code = np.array([r[0] for r in p])
        self.prod_cat = np.array([r[2] for r in p])
        self.prod_ccy = np.array([r[4] for r in p])
        launch_offset = [r[6] for r in p]
        retire_offset = [r[7] for r in p]
        self.prod_launched = np.array(
            [
                _add_months(np.array([self.h0]), np.array([-22 * 12]))[0] + np.timedelta64(37 * i, "D")
                if off is None
                else _add_months(np.array([self.h0]), np.array([off]))[0] + np.timedelta64(4, "D")
                for i, off in enumerate(launch_offset)
            ]
        )
        self.prod_retired = np.array(
            [
                np.datetime64("NaT", "D")
                if off is None
                else _add_months(np.array([self.h0]), np.array([off]))[0] + np.timedelta64(14, "D")
                for off in retire_offset
            ]
        )
        self.prod_index = {code: i for i, code in enumerate(self.prod_code)}

    def _customers(self) -> None:
        n, rng = self.spec.customers, self.rng
        self.n = n
        age = np.where(rng.random(n) < 0.05, rng.uniform(3, 18, n), rng.uniform(18, 88, n))
        birth = self.h_end - (age * 365.25).astype("timedelta64[D]")
        age_factor = np.select([age < 18, age < 30, age < 55], [0.15, 0.6, 1.0], 1.4)
        wealth = np.exp(rng.normal(np.log(20_000), 2.7, n)) * age_factor
        self.wealth = np.clip(wealth, 200, 8e8)
        self.age = age
        self.birth = birth
        gender = rng.choice(3, n, p=[0.49, 0.50, 0.01])
        # 85% joined before the history, 15% during it.
        before = rng.random(n) < 0.85
        # the bank's history starts 20 years before the extract (2005 for a 2025 extract): the
        # calendar is relative, so a bank of any period (e.g. 1995) is generated the same way
        start_2005 = _add_months(np.array([self.h0]), np.array([-20 * 12]))[0]
        span_before = (self.h0 - start_2005).astype(np.int64)
        span_during = (self.h_end - self.h0).astype(np.int64)
        onboard = np.where(
            before,
            start_2005 + (rng.random(n) * span_before).astype("timedelta64[D]"),
            self.h0 + (rng.random(n) * span_during).astype("timedelta64[D]"),
        )
        onboard = np.maximum(onboard, birth + np.timedelta64(30, "D"))
        onboard = np.minimum(onboard, self.h_end)
        self.onboard = onboard
        adult = age >= 18
        assessed = adult & (rng.random(n) < 0.8)
        risk = rng.choice(5, n, p=[0.15, 0.3, 0.3, 0.15, 0.1])
        # Assessment date: up to 30 months before the end -> ~40% expired by the last month.
        assessed_on = self.h_end - (rng.random(n) * 900).astype("timedelta64[D]")
        assessed_on = np.maximum(assessed_on, onboard)
        self.risk = risk
        self.assessed = assessed
        self.assessed_on = assessed_on
        self.payroll = np.where(adult & (age < 60), rng.random(n) < 0.38, rng.random(n) < 0.05)
        self.home_branch = rng.integers(0, self.n_branches, n)
        # Behaviour: activity profile and a churning minority.
        self.activity_lambda = rng.choice(np.array([4.0, 0.8, 0.05]), n, p=[0.45, 0.40, 0.15])
        months = self.spec.months
        self.churner = (self.wealth >= 50_000) & (rng.random(n) < 0.06) & (months >= 3)
        self.churn_start = rng.integers(1, max(2, months - 1), n)
        self.churn_len = rng.integers(2, 5, n)
        self.churn_exit = self.churner & (rng.random(n) < 0.5)
        # Identity (PII) strings.
        sur = rng.integers(0, len(catalog.SURNAMES), n)
        g1 = rng.integers(0, len(catalog.GIVEN), n)
        g2 = rng.integers(0, len(catalog.GIVEN), n)
        two = rng.random(n) < 0.6
        s, gv = catalog.SURNAMES, catalog.GIVEN
        self.full_name = [
            s[a] + gv[b] + (gv[c] if t else "")
            for a, b, c, t in zip(sur.tolist(), g1.tolist(), g2.tolist(), two.tolist(), strict=True)
        ]
        region = [catalog.CITIES[self.branch_city[b]][2] for b in self.home_branch.tolist()]
        seq = rng.integers(0, 500, n) * 2 + np.where(gender == 0, 1, 0)
        births = [str(d).replace("-", "") for d in birth.astype("datetime64[D]")]
        body = [f"{r}{b}{q:03d}" for r, b, q in zip(region, births, seq.tolist(), strict=True)]
        self.id_number = [b + _id_check_digit(b) for b in body]
        prefix = rng.choice(np.array(["13", "15", "18", "17", "19"]), n)
        tail = rng.integers(0, 1_000_000_000, n)
        self.phone = [f"{p}{t:09d}" for p, t in zip(prefix.tolist(), tail.tolist(), strict=True)]
        self.gender = gender

    def _relationship_managers(self) -> None:
        rng, w = self.rng, self.wealth
        groups = (
            ("private_banker", w >= 6_000_000, 30),
            ("wealth_advisor", (w >= 500_000) & (w < 6_000_000), 150),
            ("customer_manager", (w >= 50_000) & (w < 500_000) & (rng.random(self.n) < 0.6), 400),
        )
        rm_role, rm_branch, rm_max, assigned_rm = [], [], [], np.full(self.n, -1)
        for role, members, per_rm in groups:
            count = max(1, int(round(members.sum() / per_rm)))
            first = len(rm_role)
            rm_role += [role] * count
            rm_branch += rng.integers(0, self.n_branches, count).tolist()
            if role == "private_banker":
                # Most private bankers carry no explicit cap (seed rm_capacity applies).
                caps = np.where(rng.random(count) < 0.7, -1, rng.choice([30, 35], count))
            elif role == "wealth_advisor":
                caps = np.where(rng.random(count) < 0.5, -1, per_rm)
            else:
                caps = np.full(count, -1)
            rm_max += caps.tolist()
            idx = np.flatnonzero(members)
            assigned_rm[idx] = first + rng.integers(0, count, len(idx))
        self.rm_role = np.array(rm_role)
        self.rm_max = np.array(rm_max)
        n_rm = len(rm_role)
        sur = rng.integers(0, len(catalog.SURNAMES), n_rm)
        gv = rng.integers(0, len(catalog.GIVEN), n_rm)
        self.rm_table = pa.table(
            {
                "rm_id": _ids("RM", np.arange(1, n_rm + 1), 5),
                "rm_name": pa.array(
                    [catalog.SURNAMES[a] + catalog.GIVEN[b] for a, b in zip(sur.tolist(), gv.tolist(), strict=True)]
                ),
                "branch_id": _ids("B", np.array(rm_branch) + 1, 4),
                "rm_role": pa.array(rm_role),
                "max_clients": pa.array(self.rm_max, mask=self.rm_max < 0, type=pa.int64()),
            }
        )
        # Assignment rows: one per assigned customer, 5% reassigned once during the history.
        cust = np.flatnonzero(assigned_rm >= 0)
        start = np.maximum(self.onboard[cust], self.h0 - np.timedelta64(700, "D"))
        moved = rng.random(len(cust)) < 0.05
        span = (self.h_end - self.h0).astype(np.int64)
        change = self.h0 + (rng.random(len(cust)) * span).astype("timedelta64[D]")
        moved &= change > start
        new_rm = rng.integers(0, n_rm, len(cust))
        same_role = self.rm_role[new_rm] == self.rm_role[assigned_rm[cust]]
        moved &= same_role
        self.asg_cust = np.concatenate([cust, cust[moved]])
        self.asg_rm = np.concatenate([assigned_rm[cust], new_rm[moved]])
        self.asg_from = np.concatenate([start, change[moved]])
        self.asg_to = np.concatenate(
            [np.where(moved, change - DAY, np.datetime64("NaT", "D")), np.full(moved.sum(), np.datetime64("NaT", "D"))]
        )

    def _accounts(self) -> None:
        """Deposit accounts and their opening balances (cents) at the history start."""
        rng, n, w = self.rng, self.n, self.wealth
        inv_share = np.where(w >= 50_000, np.clip(0.05 + 0.14 * np.log10(w / 10_000), 0, 0.7), 0.0)
        deposits = w * (1 - inv_share)
        self.investable = w * inv_share
        has_td = rng.random(n) < 0.35
        has_lcd = (deposits >= 400_000) & (rng.random(n) < 0.4)
        td_amt = np.where(has_td, deposits * rng.uniform(0.2, 0.5, n), 0)
        lcd_amt = np.where(has_lcd, np.maximum(200_000, deposits * 0.3), 0)
        demand = np.maximum(deposits - td_amt - lcd_amt, 100)
        has_usd = rng.random(n) < 0.10
        has_hkd = rng.random(n) < 0.04
        fx_part = np.where(has_usd | has_hkd, demand * 0.2, 0)
        demand_cny = demand - fx_part

        cust, prod, ccy, principal, opened, maturity, term, renew = [], [], [], [], [], [], [], []

        def add(mask, product, currency, amount, open_on, mat=None, months=None, auto=None):
            idx = np.flatnonzero(mask)
            cust.append(idx)
            prod.append(np.full(len(idx), self.prod_index[product]))
            ccy.append(np.full(len(idx), currency))
            principal.append(np.round(amount[idx] * 100).astype(np.int64))
            opened.append(open_on[idx])
            maturity.append(np.full(len(idx), np.datetime64("NaT", "D")) if mat is None else mat[idx])
            term.append(np.full(len(idx), -1) if months is None else months[idx])
            renew.append(np.full(len(idx), -1) if auto is None else auto[idx])

        everyone = np.ones(n, dtype=bool)
        add(everyone, "DD01", "CNY", demand_cny, self.onboard)
        later = self.onboard + rng.integers(0, 400, n).astype("timedelta64[D]")
        later = np.minimum(later, self.h_end)
        add(has_usd, "DD02", "USD", fx_part / 7.1, later)
        add(has_hkd & ~has_usd, "DD03", "HKD", fx_part / 0.91, later)
        td_term = rng.choice(np.array([3, 12, 36]), n)
        td_open = np.maximum(
            self.onboard, self.h0 - (rng.random(n) * td_term * 30.4).astype("timedelta64[D]") + 20 * DAY
        )
        td_open = np.minimum(td_open, self.h_end)
        td_renew = (rng.random(n) < 0.5).astype(int)
        td_product = np.select([td_term == 3, td_term == 12], [0, 1], 2)
        for k, code in enumerate(("TD03", "TD12", "TD36")):
            add(
                has_td & (td_product == k),
                code,
                "CNY",
                td_amt,
                td_open,
                _add_months(td_open, td_term),
                td_term,
                td_renew,
            )
        lcd_open = np.maximum(self.onboard, self.h0 - (rng.random(n) * 1000).astype("timedelta64[D]"))
        lcd_open = np.minimum(lcd_open, self.h_end)
        lcd_term = np.full(n, 36)
        add(has_lcd, "LCD1", "CNY", lcd_amt, lcd_open, _add_months(lcd_open, lcd_term), lcd_term, np.zeros(n, int))

        self.acct_cust = np.concatenate(cust)
        self.acct_prod = np.concatenate(prod)
        self.acct_ccy = np.concatenate(ccy)
        self.acct_principal = np.concatenate(principal)
        self.acct_opened = np.concatenate(opened)
        self.acct_maturity = np.concatenate(maturity)
        self.acct_term = np.concatenate(term)
        self.acct_renew = np.concatenate(renew)
        na = len(self.acct_cust)
        self.n_accounts = na
        self.acct_cat = self.prod_cat[self.acct_prod]
        self.acct_is_demand = self.acct_cat == "demand_deposit"
        self.acct_branch = np.where(
            rng.random(na) < 0.85, self.home_branch[self.acct_cust], rng.integers(0, self.n_branches, na)
        )
        self.acct_closed = np.full(na, np.datetime64("NaT", "D"))
        self.acct_frozen = rng.random(na) < 0.002
        # A churner leaves the bank entirely only when no term deposit would still pay out later.
        has_term = np.zeros(n, dtype=bool)
        has_term[self.acct_cust[~self.acct_is_demand]] = True
        self.churn_exit &= ~has_term
        # Balance at the history start: opened before it -> principal, else opened later.
        self.acct_initial = np.where(self.acct_opened < self.h0, self.acct_principal, 0)
        # The CNY demand account of each customer receives salary and maturity payouts.
        self.main_account = np.full(n, -1)
        first_dd = np.flatnonzero(self.acct_prod == self.prod_index["DD01"])
        self.main_account[self.acct_cust[first_dd]] = first_dd
        order = np.argsort(self.acct_cust, kind="stable")
        self.acct_order = order  # accounts are numbered by customer for readable ids
        rank = np.empty(na, dtype=np.int64)
        rank[order] = np.arange(na)
        self.acct_number = rank + 1

    def _holdings(self) -> None:
        """Investment and credit positions: (customer, product, start month, value path)."""
        rng, n = self.rng, self.n
        months = self.spec.months
        rows_c, rows_p, rows_v0, rows_start = [], [], [], []
        inv_cats = catalog.INVESTMENT_CATEGORIES
        by_cat = {c: [i for i, cat in enumerate(self.prod_cat) if cat == c] for c in catalog.INVESTMENT_CATEGORIES}
        k = np.clip(np.floor(np.log10(np.maximum(self.investable, 1) / 5_000)), 0, 4).astype(int)
        k = np.where(self.investable > 0, np.maximum(k, 1), 0)
        weights = rng.dirichlet(np.ones(len(inv_cats)), n)
        order = np.argsort(-weights, axis=1)
        for j in range(len(inv_cats)):
            holds = k > j
            idx = np.flatnonzero(holds)
            cat_pick = order[idx, j]
            share = weights[idx, cat_pick] / np.take_along_axis(weights[idx], order[idx, :4], 1)[:, :4].sum(1)
            for ci, cat in enumerate(inv_cats):
                sel = cat_pick == ci
                products = np.array(by_cat[cat])
                prod = products[rng.integers(0, len(products), sel.sum())]
                rows_c.append(idx[sel])
                rows_p.append(prod)
                rows_v0.append(self.investable[idx[sel]] * share[sel])
                rows_start.append(np.zeros(sel.sum(), dtype=int))
        # Uptake during the history: 2% of customers a month buy a category they lack.
        buy = (self.age >= 18) & (rng.random(n) < 0.02 * months) & (self.wealth >= 20_000)
        idx = np.flatnonzero(buy)
        cat = rng.integers(0, len(inv_cats), len(idx))
        for ci, c in enumerate(inv_cats):
            sel = cat == ci
            products = np.array(by_cat[c])
            rows_c.append(idx[sel])
            rows_p.append(products[rng.integers(0, len(products), sel.sum())])
            rows_v0.append(self.wealth[idx[sel]] * rng.uniform(0.05, 0.15, sel.sum()))
            rows_start.append(rng.integers(1, max(2, months), sel.sum()))
        # Credit: cards, consumer loans, mortgages.
        adult = self.age >= 18
        for code, p, lo, hi in (
            ("CC01", 0.30, 500, 30_000),
            ("CC02", 0.06, 5_000, 120_000),
            ("CL01", 0.08, 20_000, 300_000),
            ("MG01", 0.12 * ((self.age >= 25) & (self.age < 60)), 200_000, 3_000_000),
        ):
            sel = adult & (rng.random(n) < p)
            idx = np.flatnonzero(sel)
            rows_c.append(idx)
            rows_p.append(np.full(len(idx), self.prod_index[code]))
            rows_v0.append(rng.uniform(lo, hi, len(idx)))
            rows_start.append(np.zeros(len(idx), dtype=int))
        self.h_cust = np.concatenate(rows_c)
        self.h_prod = np.concatenate(rows_p)
        v0 = np.concatenate(rows_v0)
        self.h_start = np.concatenate(rows_start)
        # Merge duplicate (customer, product) positions.
        key = self.h_cust.astype(np.int64) * 1000 + self.h_prod
        uniq, first = np.unique(key, return_index=True)
        sums = np.bincount(np.searchsorted(uniq, key), weights=v0)
        self.h_cust, self.h_prod, self.h_start = self.h_cust[first], self.h_prod[first], self.h_start[first]
        v0 = sums
        # Nobody holds a product before it is launched.
        launch_month = np.maximum((self.prod_launched.astype("datetime64[M]") - self.months[0]).astype(np.int64), 0)
        self.h_start = np.maximum(self.h_start, launch_month[self.h_prod])
        ccy_rate = np.where(self.prod_ccy[self.h_prod] == "USD", 7.1, 1.0)
        self.h_value = v0 / ccy_rate  # in product currency
        self.h_cat = self.prod_cat[self.h_prod]
        # Monthly value paths (product currency), built up front: returns, churn, amortisation.
        nh = len(self.h_cust)
        vol = np.select(
            [np.isin(self.h_cat, ["mutual_fund", "precious_metal"]), self.h_cat == "wealth_management"],
            [0.04, 0.01],
            0.005,
        )
        paths = np.empty((months, nh))
        value = self.h_value.copy()
        for m in range(months):
            if m > 0:
                value = value * np.exp(rng.normal(0.002, vol))
                value = np.where(self.h_cat == "consumer_loan", value * 0.97, value)
                value = np.where(self.h_cat == "mortgage", value * 0.995, value)
                card = self.h_cat == "credit_card"
                value = np.where(card, self.h_value * rng.uniform(0, 1.6, nh), value)
            draining = self._draining(m)[self.h_cust] & ~np.isin(
                self.h_cat, ["credit_card", "consumer_loan", "mortgage"]
            )
            value = np.where(draining, value * rng.uniform(0.3, 0.6, nh), value)
            gone = self._exited(m)[self.h_cust]
            value = np.where(gone, 0.0, value)
            paths[m] = np.where(m >= self.h_start, value, 0.0)
        self.h_paths = np.round(paths * 100).astype(np.int64)

    def _fx(self) -> None:
        days = np.arange(self.h0, self.h_end + DAY)
        usd = 7.10 * np.exp(np.cumsum(self.rng.normal(0, 0.002, len(days))))
        hkd = 0.91 * np.exp(np.cumsum(self.rng.normal(0, 0.002, len(days))))
        self.fx_days = days
        self.fx_rate = {"USD": np.round(usd, 6), "HKD": np.round(hkd, 6)}

    def _draining(self, m: int) -> np.ndarray:
        return self.churner & (m >= self.churn_start) & (m < self.churn_start + self.churn_len)

    def _exited(self, m: int) -> np.ndarray:
        return self.churn_exit & (m >= self.churn_start + self.churn_len - 1)

    # ------------------------------------------------------------------ monthly simulation
    def batches(self) -> Iterator[MonthBatch]:
        for m, month in enumerate(self.months):
            self.progress(f"simulating {month} ({m + 1}/{len(self.months)})")
            yield self._month(m, month)

    def _month(self, m: int, month: np.datetime64) -> MonthBatch:
        start, end = month_bounds(month)
        t0 = start.astype("datetime64[s]").astype(np.int64)
        t_end = (end + DAY).astype("datetime64[s]").astype(np.int64)
        events = self._events(m, start, end, t0, t_end)
        txns = self._post_events(events, month)
        tables = {
            "branches": self.branch_table,
            "fx_rates": self._fx_table(start, end),
            "customers": self._customer_table(end),
            "relationship_managers": self.rm_table,
            "rm_assignments": self._assignment_table(end),
            "products": self._product_table(end),
            "accounts": self._account_table(start, end),
            "deposit_transactions": txns,
            "deposit_balances": self._balance_table(start, end),
            "product_holdings": self._holding_table(m, end),
            "complaints": self._complaint_table(m, t0, t_end, end),
        }
        return MonthBatch(str(month), end, tables)

    def _events(self, m, start, end, t0, t_end) -> dict[str, np.ndarray]:
        rng = self.rng
        open_day = self.acct_opened
        open_now = (open_day <= end) & (np.isnat(self.acct_closed) | (self.acct_closed >= start))
        open_ts = np.maximum(open_day.astype("datetime64[s]").astype(np.int64) + 9 * 3600, t0)
        cols: dict[str, list[np.ndarray]] = {k: [] for k in ("acct", "ts", "kind", "value", "type", "channel", "bank")}

        def emit(acct, ts, kind, value, txn_type, channel, bank=None):
            cols["acct"].append(acct)
            cols["ts"].append(ts.astype(np.int64))
            cols["kind"].append(np.full(len(acct), kind) if np.isscalar(kind) else kind)
            cols["value"].append(np.asarray(value, dtype=np.float64))
            cols["type"].append(np.full(len(acct), txn_type) if np.isscalar(txn_type) else txn_type)
            cols["channel"].append(np.full(len(acct), channel) if np.isscalar(channel) else channel)
            cols["bank"].append(np.full(len(acct), -1) if bank is None else bank)

        cust = self.acct_cust
        opening = np.flatnonzero((open_day >= start) & (open_day <= end))
        emit(opening, open_ts[opening], CREDIT_ABS, self.acct_principal[opening], T_DEPOSIT, C_COUNTER)

        demand = np.flatnonzero(self.acct_is_demand & open_now & ~self.acct_frozen)
        draining = self._draining(m)
        # A churner who leaves this month empties its demand accounts on day 12 and closes them.
        exiting_now = self.churn_exit & (m == self.churn_start + self.churn_len - 1)
        exit_ts = t0 + 11 * SEC_PER_DAY
        closing = exiting_now[cust[demand]]
        last_ts = np.where(closing, exit_ts, t_end - 3600)
        target = np.maximum(self.acct_principal[demand], 10_000)
        lam = self.activity_lambda[cust[demand]]
        lam = np.where(draining[cust[demand]], lam * 0.5, lam)
        count = rng.poisson(lam)
        acct = np.repeat(demand, count)
        tgt = np.repeat(target, count)
        lo = open_ts[acct] + 60
        hi = np.repeat(last_ts, count)
        ts = lo + (rng.random(len(acct)) * np.maximum(hi - lo, 1)).astype(np.int64)
        credit = rng.random(len(acct)) < 0.5
        channel = rng.choice(4, len(acct), p=[0.15, 0.15, 0.45, 0.25])
        electronic = channel >= C_MOBILE
        txn_type = np.where(credit, np.where(electronic, T_TIN, T_DEPOSIT), np.where(electronic, T_TOUT, T_WITHDRAWAL))
        ext = np.where(electronic & (rng.random(len(acct)) < 0.25), rng.integers(0, len(catalog.BANKS), len(acct)), -1)
        value = np.where(credit, tgt * rng.uniform(0.05, 0.35, len(acct)), rng.uniform(0.05, 0.4, len(acct)))
        emit(acct, ts, np.where(credit, CREDIT_ABS, DEBIT_FRAC), value, txn_type, channel, ext)

        main = self.main_account[np.arange(self.n)]
        payroll = np.flatnonzero(self.payroll & (main >= 0))
        pacct = main[payroll]
        pacct = pacct[open_now[pacct] & ~self.acct_frozen[pacct]]
        salary = np.clip(self.acct_principal[pacct] * 0.08, 300_000, 8_000_000)
        ts = np.maximum(t0 + 9 * SEC_PER_DAY + 10 * 3600, open_ts[pacct] + 120)
        emit(pacct, ts, CREDIT_ABS, salary, T_TIN, C_AUTO)

        staying = demand[~closing]
        fee = staying[rng.random(len(staying)) < 0.03]
        emit(
            fee,
            np.maximum(t_end - 2 * SEC_PER_DAY, open_ts[fee] + 180),
            DEBIT_ABS,
            np.full(len(fee), 1000.0),
            T_FEE,
            C_AUTO,
        )

        # Churners move money to other banks: one or two large interbank transfers a month.
        drain_acct = demand[draining[cust[demand]] & ~closing]
        for k in range(2):
            sel = drain_acct[rng.random(len(drain_acct)) < (1.0 if k == 0 else 0.5)]
            ts = t0 + ((10 + 8 * k) * SEC_PER_DAY) + rng.integers(0, SEC_PER_DAY, len(sel))
            ts = np.maximum(ts, open_ts[sel] + 240)
            bank = rng.integers(0, len(catalog.BANKS), len(sel))
            emit(sel, ts, DEBIT_FRAC, rng.uniform(0.4, 0.7, len(sel)), T_TOUT, C_MOBILE, bank)
        close_now = demand[closing]
        ts = np.maximum(exit_ts + rng.integers(0, 3600, len(close_now)), open_ts[close_now] + 240)
        bank = rng.integers(0, len(catalog.BANKS), len(close_now))
        emit(close_now, ts, DEBIT_FRAC, np.ones(len(close_now)), T_TOUT, C_MOBILE, bank)
        self.acct_closed[close_now] = start + np.timedelta64(11, "D")

        # Term deposits: payout at maturity unless auto-renewed; the money lands on the main account.
        term = np.flatnonzero(~self.acct_is_demand & open_now)
        mat = self.acct_maturity[term]
        due = term[(mat >= start) & (mat <= end) & (self.acct_renew[term] == 0)]
        ts = self.acct_maturity[due].astype("datetime64[s]").astype(np.int64) + 10 * 3600
        emit(due, ts, DEBIT_FRAC, np.ones(len(due)), T_PAYOUT, C_AUTO)
        self.acct_closed[due] = self.acct_maturity[due]
        target_main = self.main_account[cust[due]]
        ok = target_main >= 0
        payout_value = self.balance[due]  # term balances do not move before maturity
        emit(target_main[ok], ts[ok] + 1, CREDIT_ABS, payout_value[ok], T_TIN, C_AUTO)
        renew = term[(self.acct_renew[term] == 1) & (mat <= end)]
        while len(renew):
            self.acct_maturity[renew] = _add_months(self.acct_maturity[renew], self.acct_term[renew])
            renew = renew[self.acct_maturity[renew] <= end]

        # Monthly interest on demand balances, last second of the month.
        emit(staying, np.full(len(staying), t_end - 1), INTEREST, np.full(len(staying), 0.000292), T_INTEREST, C_AUTO)
        return {k: np.concatenate(v) for k, v in cols.items()}

    def _post_events(self, ev: dict[str, np.ndarray], month: np.datetime64) -> pa.Table:
        """Apply the month's events in (account, timestamp) order; return the transactions."""
        order = np.lexsort((ev["ts"], ev["acct"]))
        ev = {k: v[order] for k, v in ev.items()}
        acct = ev["acct"]
        n_ev = len(acct)
        first = np.r_[True, acct[1:] != acct[:-1]] if n_ev else np.zeros(0, bool)
        group_start = np.maximum.accumulate(np.where(first, np.arange(n_ev), 0)) if n_ev else first
        rank = np.arange(n_ev) - group_start
        amount = np.zeros(n_ev, dtype=np.int64)
        after = np.zeros(n_ev, dtype=np.int64)
        debit = np.isin(ev["kind"], [DEBIT_FRAC, DEBIT_ABS])
        for r in range(int(rank.max()) + 1 if n_ev else 0):
            idx = np.flatnonzero(rank == r)
            a = acct[idx]
            bal = self.balance[a]
            kind, val = ev["kind"][idx], ev["value"][idx]
            amt = np.select(
                [kind == CREDIT_ABS, kind == DEBIT_FRAC, kind == DEBIT_ABS],
                [np.round(val), np.floor(np.maximum(bal, 0) * val), np.minimum(val, np.maximum(bal, 0))],
                np.floor(np.maximum(bal, 0) * val),
            ).astype(np.int64)
            bal = np.where(debit[idx], bal - amt, bal + amt)
            self.balance[a] = bal
            amount[idx] = amt
            after[idx] = bal
        keep = amount > 0
        n_txn = int(keep.sum())
        ids = np.arange(self.txn_seq + 1, self.txn_seq + n_txn + 1)
        self.txn_seq += n_txn
        yyyymm = str(month).replace("-", "")
        ts = ev["ts"][keep].astype("datetime64[s]")
        bank = ev["bank"][keep]
        return pa.table(
            {
                "txn_id": _ids(f"T{yyyymm}", ids, 9),
                "account_id": _ids("A", self.acct_number[acct[keep]], 9),
                "txn_ts": pa.array(ts, type=pa.timestamp("s")),
                "direction": _pick(("C", "D"), debit[keep].astype(int)),
                "amount": _money(amount[keep]),
                "txn_type": _pick(TXN_TYPES, ev["type"][keep]),
                "channel": _pick(CHANNELS, ev["channel"][keep]),
                "counterparty_bank": _pick(catalog.BANKS, np.maximum(bank, 0), bank >= 0),
                "balance_after": _money(after[keep]),
            }
        )

    # ------------------------------------------------------------------ snapshot tables
    def _fx_table(self, start, end) -> pa.Table:
        sel = (self.fx_days >= start) & (self.fx_days <= end)
        days = self.fx_days[sel]
        cur = np.repeat(np.array(["HKD", "USD"]), len(days))
        rates = np.concatenate([self.fx_rate["HKD"][sel], self.fx_rate["USD"][sel]])
        return pa.table(
            {
                "currency": pa.array(cur),
                "rate_date": _dates(np.tile(days, 2)),
                "cny_per_unit": pa.array([f"{r:.6f}" for r in rates]).cast(pa.decimal128(18, 6)),
            }
        )

    def _customer_table(self, end) -> pa.Table:
        idx = np.flatnonzero(self.onboard <= end)
        assessed = self.assessed[idx] & (self.assessed_on[idx] <= end)
        updated = np.where(assessed, np.maximum(self.onboard[idx], self.assessed_on[idx]), self.onboard[idx])
        return pa.table(
            {
                "customer_id": _ids("C", idx + 1, 8),
                "full_name": pa.array([self.full_name[i] for i in idx.tolist()]),
                "id_number": pa.array([self.id_number[i] for i in idx.tolist()]),
                "phone": pa.array([self.phone[i] for i in idx.tolist()]),
                "birth_date": _dates(self.birth[idx]),
                "gender": _pick(("M", "F", "U"), self.gender[idx]),
                "home_branch_id": _ids("B", self.home_branch[idx] + 1, 4),
                "onboarded_on": _dates(self.onboard[idx]),
                "risk_level": _pick(("C1", "C2", "C3", "C4", "C5"), self.risk[idx], assessed),
                "risk_assessed_on": _dates(self.assessed_on[idx], assessed),
                "is_payroll": pa.array(self.payroll[idx]),
                "updated_at": pa.array(
                    updated.astype("datetime64[s]") + np.timedelta64(2 * 3600, "s"), type=pa.timestamp("s")
                ),
            }
        )

    def _assignment_table(self, end) -> pa.Table:
        sel = (self.asg_from <= end) & (self.onboard[self.asg_cust] <= end)
        valid_to = self.asg_to[sel]
        known_to = ~np.isnat(valid_to) & (valid_to <= end)
        order = np.lexsort((self.asg_from[sel], self.asg_cust[sel]))
        return pa.table(
            {
                "customer_id": _ids("C", self.asg_cust[sel][order] + 1, 8),
                "rm_id": _ids("RM", self.asg_rm[sel][order] + 1, 5),
                "valid_from": _dates(self.asg_from[sel][order]),
                "valid_to": _dates(np.where(known_to, valid_to, self.h0)[order], known_to[order]),
            }
        )

    def _product_table(self, end) -> pa.Table:
        sel = self.prod_launched <= end
        retired = self.prod_retired[sel]
        known = ~np.isnat(retired) & (retired <= end)
        p = [r for r, s in zip(catalog.PRODUCTS, sel, strict=True) if s]
        return pa.table(
            {
                "product_code": pa.array([r[0] for r in p]),
                "product_name": pa.array([r[1] for r in p]),
                "category": pa.array([r[2] for r in p]),
                "risk_rating": pa.array([r[3] for r in p]),
                "currency": pa.array([r[4] for r in p]),
                "min_purchase": _money(np.array([r[5] * 100 for r in p], dtype=np.int64)),
                "launched_on": _dates(self.prod_launched[sel]),
                "retired_on": _dates(np.where(known, retired, self.h0), known),
            }
        )

    def _account_table(self, start, end) -> pa.Table:
        sel = np.flatnonzero(self.acct_opened <= end)
        sel = sel[np.argsort(self.acct_number[sel])]
        closed = self.acct_closed[sel]
        is_closed = ~np.isnat(closed) & (closed <= end)
        dormant = self.activity_lambda[self.acct_cust[sel]] < 0.1
        status = np.select([is_closed, self.acct_frozen[sel], dormant & self.acct_is_demand[sel]], [3, 2, 1], 0)
        term = ~self.acct_is_demand[sel]
        return pa.table(
            {
                "account_id": _ids("A", self.acct_number[sel], 9),
                "customer_id": _ids("C", self.acct_cust[sel] + 1, 8),
                "product_code": pa.array(self.prod_code[self.acct_prod[sel]]),
                "currency": pa.array(self.acct_ccy[sel]),
                "branch_id": _ids("B", self.acct_branch[sel] + 1, 4),
                "opened_on": _dates(self.acct_opened[sel]),
                "closed_on": _dates(np.where(is_closed, closed, start), is_closed),
                "status": _pick(("active", "dormant", "frozen", "closed"), status),
                "maturity_date": _dates(np.where(term, self.acct_maturity[sel], start), term),
                "term_months": pa.array(self.acct_term[sel], mask=~term, type=pa.int64()),
                "auto_renew": pa.array(self.acct_renew[sel] == 1, mask=~term),
            }
        )

    def _balance_table(self, start, end) -> pa.Table:
        closed = self.acct_closed
        sel = np.flatnonzero((self.acct_opened <= end) & (np.isnat(closed) | (closed >= start)))
        sel = sel[np.argsort(self.acct_number[sel])]
        return pa.table(
            {
                "account_id": _ids("A", self.acct_number[sel], 9),
                "as_of_date": _dates(np.full(len(sel), end)),
                "ledger_balance": _money(self.balance[sel]),
            }
        )

    def _holding_table(self, m: int, end) -> pa.Table:
        value = self.h_paths[m]
        sel = np.flatnonzero((value > 0) & (self.onboard[self.h_cust] <= end))
        sel = sel[np.lexsort((self.h_prod[sel], self.h_cust[sel]))]
        v = value[sel]
        nav = 1.0 + (self.h_prod[sel] % 7) * 0.05
        credit = np.isin(self.h_cat[sel], ["credit_card", "consumer_loan", "mortgage"])
        units = np.round(v / 100 / nav, 4)
        return pa.table(
            {
                "customer_id": _ids("C", self.h_cust[sel] + 1, 8),
                "product_code": pa.array(self.prod_code[self.h_prod[sel]]),
                "as_of_date": _dates(np.full(len(sel), end)),
                "units": pa.array([f"{u:.4f}" for u in units], mask=credit).cast(pa.decimal128(18, 6)),
                "holding_value": _money(v),
            }
        )

    def _complaint_table(self, m: int, t0, t_end, end) -> pa.Table:
        rng = self.rng
        lam = np.where(self._draining(m), 0.25, 0.004)
        lam = np.where(self.onboard <= end, lam, 0)
        count = rng.poisson(lam)
        cust = np.repeat(np.arange(self.n), count)
        opened = t0 + (rng.random(len(cust)) * (t_end - t0 - 3600)).astype(np.int64)
        opened = np.maximum(opened, self.onboard[cust].astype("datetime64[s]").astype(np.int64) + 3600)
        order = np.argsort(opened, kind="stable")
        cust, opened = cust[order], opened[order]
        resolved = opened + (rng.random(len(cust)) * 20 * SEC_PER_DAY).astype(np.int64)
        is_resolved = (rng.random(len(cust)) < 0.8) & (resolved < t_end)
        ids = np.arange(self.complaint_seq + 1, self.complaint_seq + len(cust) + 1)
        self.complaint_seq += len(cust)
        return pa.table(
            {
                "complaint_id": _ids("Q", ids, 8),
                "customer_id": _ids("C", cust + 1, 8),
                "opened_at": pa.array(opened.astype("datetime64[s]"), type=pa.timestamp("s")),
                "channel": _pick(catalog.COMPLAINT_CHANNELS, rng.integers(0, 4, len(cust))),
                "category": _pick(catalog.COMPLAINT_CATEGORIES, rng.integers(0, 5, len(cust))),
                "severity": _pick(("low", "medium", "high"), rng.choice(3, len(cust), p=[0.6, 0.3, 0.1])),
                "resolved_at": pa.array(resolved.astype("datetime64[s]"), type=pa.timestamp("s"), mask=~is_resolved),
            }
        )


def _id_check_digit(body: str) -> str:
    """GB 11643 check character of an 17-digit resident ID body."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(ch) * w for ch, w in zip(body, weights, strict=True))
    return "10X98765432"[total % 11]
