with source as (
    select * from {{ source('core', 'products') }}
),

renamed as (
    select
        product_code,
        product_name,
        category,
        risk_rating,
        currency,
        min_purchase,
        launched_on,
        retired_on,
        _batch_id as batch_id,
        _source_file as source_file,
        _row_number as source_row_number
    from source
)

select * from renamed
