with source as (
    select * from {{ source('core', 'branches') }}
),

renamed as (
    select
        branch_id,
        branch_name,
        city,
        region,
        _batch_id as batch_id,
        _source_file as source_file,
        _row_number as source_row_number
    from source
)

select * from renamed
