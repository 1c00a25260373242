with source as (
    select * from {{ source('core', '_dq_rollforward_breaks') }}
),

renamed as (
    select
        batch_id,
        account_id,
        as_of_date,
        check_name,
        txn_id,
        expected as expected_balance,
        actual as actual_balance,
        difference as balance_difference
    from source
)

select * from renamed
