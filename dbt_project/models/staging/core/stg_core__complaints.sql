with source as (
    select * from {{ source('core', 'complaints') }}
),

renamed as (
    select
        complaint_id,
        customer_id,
        opened_at,
        channel,
        category,
        severity,
        resolved_at,
        _batch_id as batch_id,
        _source_file as source_file,
        _row_number as source_row_number
    from source
)

select * from renamed
