-- Deposit transactions with their month, signed amount and day, deduplicated across
-- re-deliveries (the latest batch holding a txn_id wins). Incremental by month: a run reads
-- only the transactions dated in its months, so a re-delivered transaction counts in the month
-- of its txn_ts when that month is rebuilt.
with run_transactions as (
    select * from {{ ref('stg_core__deposit_transactions') }}
    where {{ incremental_timestamps('txn_ts') }}
),

ranked as (
    {{ latest_delivery('run_transactions', ['txn_id']) }}
),

final as (
    select
        txn_id,
        account_id,
        txn_ts,
        cast(txn_ts as date) as txn_date,
        {{ month_end('cast(txn_ts as date)') }} as as_of_date,
        direction,
        amount,
        case when direction = 'C' then amount else -amount end as signed_amount,
        txn_type,
        channel,
        counterparty_bank,
        balance_after,
        batch_id,
        source_file,
        source_row_number
    from ranked
    where {{ within_run(month_end('cast(txn_ts as date)')) }}
)

select * from final
