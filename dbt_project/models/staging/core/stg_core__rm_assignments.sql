with source as (
    select * from {{ source('core', 'rm_assignments') }}
),

renamed as (
    select
        customer_id,
        rm_id,
        valid_from,
        valid_to,
        _batch_id as batch_id,
        _source_file as source_file,
        _row_number as source_row_number
    from source
)

select * from renamed
