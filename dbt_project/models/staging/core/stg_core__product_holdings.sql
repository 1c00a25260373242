with source as (
    select * from {{ source('core', 'product_holdings') }}
),

renamed as (
    select
        customer_id,
        product_code,
        as_of_date,
        units,
        holding_value,
        _batch_id as batch_id,
        _source_file as source_file,
        _row_number as source_row_number
    from source
)

select * from renamed
