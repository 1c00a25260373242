with source as (
    select * from {{ source('core', '_load_batches') }}
),

renamed as (
    select
        batch_id,
        as_of_date as batch_as_of_date,
        manifest_sha256,
        batch_path,
        loaded_at,
        revision as batch_revision
    from source
)

select * from renamed
