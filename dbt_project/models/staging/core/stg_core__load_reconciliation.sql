with source as (
    select * from {{ source('core', '_load_reconciliation') }}
),

renamed as (
    select
        batch_id,
        table_name,
        source_file,
        rows_delivered,
        rows_loaded,
        rows_quarantined,
        file_sha256
    from source
)

select * from renamed
