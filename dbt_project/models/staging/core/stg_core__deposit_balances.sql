with source as (
    select * from {{ source('core', 'deposit_balances') }}
),

renamed as (
    select
        account_id,
        as_of_date,
        ledger_balance,
        _batch_id as batch_id,
        _source_file as source_file,
        _row_number as source_row_number
    from source
)

select * from renamed
