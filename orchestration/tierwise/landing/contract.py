"""The landing contract (docs/landing-contract.md) as data.

Both the synthetic bank (writer) and the loader (reader) use this one description, so the
two cannot drift apart. Identifiers here are the only names ever placed into loader SQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Logical types -> DuckDB types used when casting landed text.
SQL_TYPES = {
    "str": "VARCHAR",
    "date": "DATE",
    "ts": "TIMESTAMP",
    "money": "DECIMAL(18,2)",
    "num": "DECIMAL(18,6)",
    "int": "BIGINT",
    "bool": "BOOLEAN",
}

CATEGORIES = (
    "demand_deposit",
    "time_deposit",
    "large_cd",
    "wealth_management",
    "mutual_fund",
    "insurance",
    "bond",
    "precious_metal",
    "credit_card",
    "consumer_loan",
    "mortgage",
)
DEPOSIT_CATEGORIES = ("demand_deposit", "time_deposit", "large_cd")


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # key of SQL_TYPES
    required: bool = False  # null is a rule break (quarantine)
    pii: bool = False


@dataclass(frozen=True)
class ForeignKey:
    column: str
    parent: str
    parent_column: str


@dataclass(frozen=True)
class Table:
    name: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    foreign_keys: tuple[ForeignKey, ...] = ()
    accepted: dict[str, tuple[str, ...]] = field(default_factory=dict)
    positive: tuple[str, ...] = ()  # must be > 0
    non_negative: tuple[str, ...] = ()  # must be >= 0
    not_after_as_of: tuple[str, ...] = ()  # dates/timestamps that cannot be after as_of_date
    currency_columns: tuple[str, ...] = ()  # must be CNY or a currency with an fx rate
    monthly: bool = False  # increment (True) or full snapshot (False)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


def _c(spec: str) -> Column:
    """'name:type[!][#]' — '!' required, '#' PII."""
    name, kind = spec.split(":")
    return Column(name, kind.rstrip("!#"), required="!" in kind, pii="#" in kind)


def _cols(*specs: str) -> tuple[Column, ...]:
    return tuple(_c(s) for s in specs)


TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "branches",
            ("branch_id",),
            _cols("branch_id:str!", "branch_name:str!", "city:str", "region:str"),
        ),
        Table(
            "fx_rates",
            ("currency", "rate_date"),
            _cols("currency:str!", "rate_date:date!", "cny_per_unit:num!"),
            positive=("cny_per_unit",),
            not_after_as_of=("rate_date",),
            monthly=True,
        ),
        Table(
            "customers",
            ("customer_id",),
            _cols(
                "customer_id:str!",
                "full_name:str#",
                "id_number:str#",
                "phone:str#",
                "birth_date:date!",
                "gender:str!",
                "home_branch_id:str!",
                "onboarded_on:date!",
                "risk_level:str",
                "risk_assessed_on:date",
                "is_payroll:bool!",
                "updated_at:ts",
            ),
            foreign_keys=(ForeignKey("home_branch_id", "branches", "branch_id"),),
            accepted={"gender": ("M", "F", "U"), "risk_level": ("C1", "C2", "C3", "C4", "C5")},
            not_after_as_of=("birth_date", "onboarded_on", "risk_assessed_on", "updated_at"),
        ),
        Table(
            "relationship_managers",
            ("rm_id",),
            _cols("rm_id:str!", "rm_name:str", "branch_id:str!", "rm_role:str!", "max_clients:int"),
            foreign_keys=(ForeignKey("branch_id", "branches", "branch_id"),),
            accepted={"rm_role": ("private_banker", "wealth_advisor", "customer_manager")},
            positive=("max_clients",),
        ),
        Table(
            "rm_assignments",
            ("customer_id", "valid_from"),
            _cols("customer_id:str!", "rm_id:str!", "valid_from:date!", "valid_to:date"),
            foreign_keys=(
                ForeignKey("customer_id", "customers", "customer_id"),
                ForeignKey("rm_id", "relationship_managers", "rm_id"),
            ),
            not_after_as_of=("valid_from",),
        ),
        Table(
            "products",
            ("product_code",),
            _cols(
                "product_code:str!",
                "product_name:str",
                "category:str!",
                "risk_rating:str!",
                "currency:str!",
                "min_purchase:money",
                "launched_on:date!",
                "retired_on:date",
            ),
            accepted={"category": CATEGORIES, "risk_rating": ("R1", "R2", "R3", "R4", "R5")},
            non_negative=("min_purchase",),
            not_after_as_of=("launched_on",),
            currency_columns=("currency",),
        ),
        Table(
            "accounts",
            ("account_id",),
            _cols(
                "account_id:str!",
                "customer_id:str!",
                "product_code:str!",
                "currency:str!",
                "branch_id:str!",
                "opened_on:date!",
                "closed_on:date",
                "status:str!",
                "maturity_date:date",
                "term_months:int",
                "auto_renew:bool",
            ),
            foreign_keys=(
                ForeignKey("customer_id", "customers", "customer_id"),
                ForeignKey("product_code", "products", "product_code"),
                ForeignKey("branch_id", "branches", "branch_id"),
            ),
            accepted={"status": ("active", "dormant", "frozen", "closed")},
            positive=("term_months",),
            not_after_as_of=("opened_on", "closed_on"),
            currency_columns=("currency",),
        ),
        Table(
            "deposit_transactions",
            ("txn_id",),
            _cols(
                "txn_id:str!",
                "account_id:str!",
                "txn_ts:ts!",
                "direction:str!",
                "amount:money!",
                "txn_type:str!",
                "channel:str!",
                "counterparty_bank:str",
                "balance_after:money!",
            ),
            foreign_keys=(ForeignKey("account_id", "accounts", "account_id"),),
            accepted={
                "direction": ("C", "D"),
                "txn_type": (
                    "deposit",
                    "withdrawal",
                    "transfer_in",
                    "transfer_out",
                    "interest",
                    "fee",
                    "maturity_payout",
                ),
                "channel": ("counter", "atm", "mobile", "online", "auto"),
            },
            positive=("amount",),
            not_after_as_of=("txn_ts",),
            monthly=True,
        ),
        Table(
            "deposit_balances",
            ("account_id", "as_of_date"),
            _cols("account_id:str!", "as_of_date:date!", "ledger_balance:money!"),
            foreign_keys=(ForeignKey("account_id", "accounts", "account_id"),),
            not_after_as_of=("as_of_date",),
            monthly=True,
        ),
        Table(
            "product_holdings",
            ("customer_id", "product_code", "as_of_date"),
            _cols(
                "customer_id:str!",
                "product_code:str!",
                "as_of_date:date!",
                "units:num",
                "holding_value:money!",
            ),
            foreign_keys=(
                ForeignKey("customer_id", "customers", "customer_id"),
                ForeignKey("product_code", "products", "product_code"),
            ),
            non_negative=("holding_value", "units"),
            not_after_as_of=("as_of_date",),
            monthly=True,
        ),
        Table(
            "complaints",
            ("complaint_id",),
            _cols(
                "complaint_id:str!",
                "customer_id:str!",
                "opened_at:ts!",
                "channel:str",
                "category:str",
                "severity:str!",
                "resolved_at:ts",
            ),
            foreign_keys=(ForeignKey("customer_id", "customers", "customer_id"),),
            accepted={"severity": ("low", "medium", "high")},
            not_after_as_of=("opened_at", "resolved_at"),
            monthly=True,
        ),
    )
}

# Load order: parents before children, so foreign keys check against accepted parent rows.
LOAD_ORDER: tuple[str, ...] = tuple(TABLES)
