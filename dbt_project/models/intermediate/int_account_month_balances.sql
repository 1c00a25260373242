-- Per deposit account and month: month-average daily balance (月日均余额) over every calendar
-- day, month-end balance, in account currency and in CNY at the month-end rate.
with accounts as (
    select * from {{ ref('int_accounts__monthly') }}
),

segments as (
    select * from {{ ref('int_deposit_balance_segments') }}
),

fx as (
    select * from {{ ref('int_fx_rates__monthly') }}
),

balance_days as (
    select
        account_id,
        as_of_date,
        sum(balance * days_held) as balance_days
    from segments
    where {{ incremental_months('as_of_date') }}
    group by account_id, as_of_date
),

final as (
    select
        accounts.account_id,
        accounts.customer_id,
        accounts.as_of_date,
        accounts.category,
        accounts.currency,
        accounts.is_open_at_month_end,
        accounts.maturity_date,
        accounts.auto_renew,
        accounts.opening_balance,
        accounts.month_end_balance,
        cast(coalesce(balance_days.balance_days, 0) / accounts.days_in_month as decimal(18, 6)) as adb,
        fx.cny_per_unit,
        cast(
            coalesce(balance_days.balance_days, 0) / accounts.days_in_month * fx.cny_per_unit as decimal(18, 6)
        ) as adb_cny,
        cast(accounts.month_end_balance * fx.cny_per_unit as decimal(18, 6)) as month_end_balance_cny
    from accounts
    left join balance_days
        on accounts.account_id = balance_days.account_id and accounts.as_of_date = balance_days.as_of_date
    left join fx on accounts.as_of_date = fx.as_of_date and accounts.currency = fx.currency
    where {{ incremental_months('accounts.as_of_date') }}
)

select * from final
