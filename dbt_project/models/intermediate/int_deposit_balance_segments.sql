-- Daily balances of each deposit account, as runs of days with one balance (segments), so
-- the month average covers every calendar day without one row per day (docs/business-rules.md):
-- the balance on day d is balance_after of the day's last transaction (by txn_ts, txn_id),
-- else the balance carried from the day before, starting from the opening balance;
-- 0 before the account opened and from the day it closed.
--
-- One ordered pass per account and month: the opening row first, then the transactions in
-- order. A transaction followed by one of another day (or by none) ends its day, and its
-- balance holds until the next transaction's day; the opening balance holds until the first
-- transaction's day. The window bounds ride on the opening row, so each input is read once.
{%- set account_month_order =
    'partition by account_id, as_of_date order by start_order, segment_start, txn_ts, txn_id' %}
with windows as (
    select
        account_id,
        as_of_date,
        opening_balance,
        case when opened_on > month_start then opened_on else month_start end as first_day,
        case
            when closed_on is not null and closed_on <= as_of_date then closed_on
            else {{ add_days('as_of_date', 1) }}
        end as end_day_exclusive
    from {{ ref('int_accounts__monthly') }}
    where {{ incremental_months('as_of_date') }}
),

starts as (
    select
        account_id,
        as_of_date,
        0 as start_order,
        first_day as segment_start,
        cast(null as timestamp) as txn_ts,
        cast(null as {{ dbt.type_string() }}) as txn_id,
        opening_balance as balance,
        first_day,
        end_day_exclusive
    from windows
    union all
    select
        account_id,
        as_of_date,
        1 as start_order,
        txn_date as segment_start,
        txn_ts,
        txn_id,
        balance_after as balance,
        cast(null as date) as first_day,
        cast(null as date) as end_day_exclusive
    from {{ ref('int_deposit_transactions') }}
    where {{ incremental_months('as_of_date') }}
),

ordered as (
    -- first_value: the opening row sorts first, so it gives each row its account-month's bounds
    select
        account_id,
        as_of_date,
        start_order,
        segment_start,
        balance,
        lead(segment_start) over ({{ account_month_order }}) as next_start,
        first_value(first_day) over ({{ account_month_order }}) as first_day,
        first_value(end_day_exclusive) over ({{ account_month_order }}) as end_day_exclusive
    from starts
),

runs as (
    select
        account_id,
        as_of_date,
        segment_start,
        balance,
        first_day,
        end_day_exclusive,
        coalesce(next_start, end_day_exclusive) as segment_end
    from ordered
    -- transactions of an account-month without an account row are not counted (no window)
    where
        first_day is not null
        and (start_order = 0 or next_start is null or next_start <> segment_start)
),

final as (
    select
        account_id,
        as_of_date,
        segment_start,
        segment_end,
        balance,
        -- Clip every run to [first_day, end_day_exclusive): nothing counts before opening or from closing.
        greatest(
            0,
            {{ days_between(
                'case when segment_start > first_day then segment_start else first_day end',
                'case when segment_end < end_day_exclusive then segment_end else end_day_exclusive end'
            ) }}
        ) as days_held
    from runs
)

select * from final
