-- Balance roll-forward breaks (余额勾稽不平, docs/landing-contract.md "Balance roll-forward"):
-- reported, never corrected. Three checks per deposit account and month, each on the delivery
-- the warehouse holds now (the latest batch of a balance or transaction, as every model
-- chooses it: int_deposit_transactions, macros/latest_delivery.sql):
--   balance_after_chain     each transaction's balance_after = the one before it (or last
--                           month's closing balance for the first) + its signed amount;
--   last_txn_vs_month_end   the month's last transaction's balance_after = the month-end balance;
--   month_rollforward       last month's closing balance + the month's net = this month's.
-- A check needs both of its sides: with no balance for last month the first transaction and
-- the month roll-forward are not checked. Incremental by month like the models it reads.
with transactions as (
    select * from {{ ref('int_deposit_transactions') }}
    where {{ incremental_months('as_of_date') }}
),

-- the month-end balances of the run's months and of the month before each, latest delivery
-- (macros/month_end_balances.sql)
balances as (
    {{ latest_month_end_balances() }}
),

-- both in the one order of the month's transactions (one sort, not two): the balance before
-- each, and whether it is the month's last (no next one; txn_id is never null, and txn_ts is
-- required by the landing contract, so the last in this order is the latest transaction)
ordered as (
    select
        transactions.*,
        lag(transactions.balance_after) over (
            partition by transactions.account_id, transactions.as_of_date
            order by transactions.txn_ts, transactions.txn_id
        ) as previous_balance_after,
        lead(transactions.txn_id) over (
            partition by transactions.account_id, transactions.as_of_date
            order by transactions.txn_ts, transactions.txn_id
        ) is null as is_last_of_month
    from transactions
),

chained as (
    select
        ordered.*,
        coalesce(ordered.previous_balance_after, opening.ledger_balance) + ordered.signed_amount as expected_balance
    from ordered
    left join balances as opening
        on
            ordered.account_id = opening.account_id
            and opening.as_of_date = {{ prev_month_end('ordered.as_of_date') }}
),

month_net as (
    select
        account_id,
        as_of_date,
        sum(signed_amount) as net_amount
    from transactions
    group by account_id, as_of_date
),

chain_breaks as (
    select
        account_id,
        as_of_date,
        'balance_after_chain' as check_name,
        txn_id,
        batch_id,
        expected_balance,
        balance_after as actual_balance
    from chained
    where expected_balance is not null and balance_after <> expected_balance
),

last_transaction_breaks as (
    select
        ordered.account_id,
        ordered.as_of_date,
        'last_txn_vs_month_end' as check_name,
        ordered.txn_id,
        month_end.batch_id,
        ordered.balance_after as expected_balance,
        month_end.ledger_balance as actual_balance
    from ordered
    inner join balances as month_end
        on ordered.account_id = month_end.account_id and ordered.as_of_date = month_end.as_of_date
    where ordered.is_last_of_month and ordered.balance_after <> month_end.ledger_balance
),

month_breaks as (
    select
        this_month.account_id,
        this_month.as_of_date,
        'month_rollforward' as check_name,
        cast(null as {{ dbt.type_string() }}) as txn_id,
        this_month.batch_id,
        last_month.ledger_balance + coalesce(month_net.net_amount, 0) as expected_balance,
        this_month.ledger_balance as actual_balance
    from balances as this_month
    inner join balances as last_month
        on
            this_month.account_id = last_month.account_id
            and last_month.as_of_date = {{ prev_month_end('this_month.as_of_date') }}
    left join month_net
        on this_month.account_id = month_net.account_id and this_month.as_of_date = month_net.as_of_date
    where
        {{ incremental_months('this_month.as_of_date') }}
        and last_month.ledger_balance + coalesce(month_net.net_amount, 0) <> this_month.ledger_balance
),

all_breaks as (
    select * from chain_breaks
    union all
    select * from last_transaction_breaks
    union all
    select * from month_breaks
),

final as (
    select
        account_id,
        as_of_date,
        check_name,
        txn_id,
        batch_id,
        cast(expected_balance as decimal(18, 2)) as expected_balance,
        cast(actual_balance as decimal(18, 2)) as actual_balance,
        cast(actual_balance - expected_balance as decimal(18, 2)) as balance_difference
    from all_breaks
)

select * from final
