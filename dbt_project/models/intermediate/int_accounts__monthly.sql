-- Each deposit account in force during the month (opened by month end, not closed before it
-- began), from the month's batch, with its category, opening and month-end balances.
-- Opening balance (docs/business-rules.md): previous month-end ledger_balance; 0 if the account has none;
-- in the first month ever loaded, this month-end balance minus the month's net transactions.
with accounts as (
    select * from {{ ref('stg_core__accounts') }}
),

products as (
    select * from {{ ref('stg_core__products') }}
),

month_batches as (
    select * from {{ ref('int_month_batches') }}
),

months as (
    select * from {{ ref('int_months') }}
),

net_movements as (
    select * from {{ ref('int_deposit_transactions') }}
),

-- The month-end balances of the run's months and of the month before each (opening balance),
-- the latest delivery of each (macros/month_end_balances.sql).
latest_balances as (
    {{ latest_month_end_balances() }}
),

month_net as (
    select
        account_id,
        as_of_date,
        sum(signed_amount) as net_amount
    from net_movements
    where {{ incremental_months('as_of_date') }}
    group by account_id, as_of_date
),

in_force as (
    select
        accounts.account_id,
        accounts.customer_id,
        months.as_of_date,
        months.month_start,
        months.prev_as_of_date,
        months.days_in_month,
        months.is_first_loaded_month,
        accounts.product_code,
        products.category,
        accounts.currency,
        accounts.branch_id,
        accounts.opened_on,
        accounts.closed_on,
        accounts.status,
        accounts.maturity_date,
        accounts.auto_renew,
        accounts.batch_id,
        accounts.source_file,
        accounts.source_row_number
    from accounts
    inner join month_batches on accounts.batch_id = month_batches.batch_id
    inner join months on month_batches.as_of_date = months.as_of_date
    left join products on accounts.product_code = products.product_code and accounts.batch_id = products.batch_id
    where
        accounts.opened_on <= months.as_of_date
        and (accounts.closed_on is null or accounts.closed_on >= months.month_start)
        and {{ incremental_months('months.as_of_date') }}
),

final as (
    select
        in_force.*,
        in_force.closed_on is null or in_force.closed_on > in_force.as_of_date as is_open_at_month_end,
        coalesce(this_month.ledger_balance, 0) as month_end_balance,
        case
            when prev_month.ledger_balance is not null then prev_month.ledger_balance
            when in_force.is_first_loaded_month
                then coalesce(this_month.ledger_balance, 0) - coalesce(month_net.net_amount, 0)
            else 0
        end as opening_balance
    from in_force
    left join latest_balances as this_month
        on in_force.account_id = this_month.account_id and in_force.as_of_date = this_month.as_of_date
    left join latest_balances as prev_month
        on in_force.account_id = prev_month.account_id and in_force.prev_as_of_date = prev_month.as_of_date
    left join month_net
        on in_force.account_id = month_net.account_id and in_force.as_of_date = month_net.as_of_date
)

select * from final
