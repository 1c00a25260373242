with source as (
    select * from {{ source('core', 'deposit_transactions') }}
),

renamed as (
    select
        txn_id,
        account_id,
        txn_ts,
        direction,
        amount,
        txn_type,
        channel,
        counterparty_bank,
        balance_after,
        _batch_id as batch_id,
        _source_file as source_file,
        _row_number as source_row_number
    from source
)

select * from renamed
