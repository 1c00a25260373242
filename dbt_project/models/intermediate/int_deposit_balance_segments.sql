-- Daily balances of each deposit account, as runs of days with one balance (segments), so
-- the month average covers every calendar day without one row per day (DOMAIN.md):
-- the balance on day d is balance_after of the day's last transaction (by txn_ts, txn_id),
-- else the balance carried from the day before, starting from the opening balance;
-- 0 before the account opened and from the day it closed.
with accounts as (
    select * from {{ ref('int_accounts__monthly') }}
),

transactions as (
    select * from {{ ref('int_deposit_transactions') }}
),

windows as (
    select
        account_id,
        as_of_date,
        opening_balance,
        case when opened_on > month_start then opened_on else month_start end as first_day,
        case
            when closed_on is not null and closed_on <= as_of_date then closed_on
            else {{ add_days('as_of_date', 1) }}
        end as end_day_exclusive
    from accounts
    where {{ incremental_months('as_of_date') }}
),

day_ends as (
    select
        account_id,
        as_of_date,
        txn_date,
        balance_after
    from (
        select
            account_id,
            as_of_date,
            txn_date,
            balance_after,
            row_number() over (partition by account_id, txn_date order by txn_ts desc, txn_id desc) as rank_in_day
        from transactions
        where {{ incremental_months('as_of_date') }}
    ) as ranked
    where rank_in_day = 1
),

day_end_runs as (
    select
        day_ends.account_id,
        day_ends.as_of_date,
        day_ends.txn_date as segment_start,
        coalesce(
            lead(day_ends.txn_date)
                over (partition by day_ends.account_id, day_ends.as_of_date order by day_ends.txn_date),
            windows.end_day_exclusive
        ) as segment_end,
        day_ends.balance_after as balance
    from day_ends
    inner join windows on day_ends.account_id = windows.account_id and day_ends.as_of_date = windows.as_of_date
),

opening_runs as (
    select
        windows.account_id,
        windows.as_of_date,
        windows.first_day as segment_start,
        coalesce(min(day_ends.txn_date), windows.end_day_exclusive) as segment_end,
        windows.opening_balance as balance
    from windows
    left join day_ends on windows.account_id = day_ends.account_id and windows.as_of_date = day_ends.as_of_date
    group by
        windows.account_id, windows.as_of_date, windows.first_day, windows.end_day_exclusive,
        windows.opening_balance
),

runs as (
    select * from opening_runs
    union all
    select * from day_end_runs
),

final as (
    select
        runs.account_id,
        runs.as_of_date,
        runs.segment_start,
        runs.segment_end,
        runs.balance,
        -- Clip every run to [first_day, end_day_exclusive): nothing counts before opening or from closing.
        greatest(
            0,
            {{ days_between(
                'case when runs.segment_start > windows.first_day then runs.segment_start else windows.first_day end',
                'case when runs.segment_end < windows.end_day_exclusive then runs.segment_end
                    else windows.end_day_exclusive end'
            ) }}
        ) as days_held
    from runs
    inner join windows on runs.account_id = windows.account_id and runs.as_of_date = windows.as_of_date
)

select * from final
