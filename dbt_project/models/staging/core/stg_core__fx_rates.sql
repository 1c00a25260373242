with source as (
    select * from {{ source('core', 'fx_rates') }}
),

renamed as (
    select
        currency,
        rate_date,
        cny_per_unit,
        _batch_id as batch_id,
        _source_file as source_file,
        _row_number as source_row_number
    from source
)

select * from renamed
