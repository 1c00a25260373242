with source as (
    select * from {{ source('core', 'accounts') }}
),

renamed as (
    select
        account_id,
        customer_id,
        product_code,
        currency,
        branch_id,
        opened_on,
        closed_on,
        status,
        maturity_date,
        term_months,
        auto_renew,
        _batch_id as batch_id,
        _source_file as source_file,
        _row_number as source_row_number
    from source
)

select * from renamed
