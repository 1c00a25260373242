with source as (
    select * from {{ source('core', 'relationship_managers') }}
),

renamed as (
    select
        rm_id,
        rm_name,
        branch_id,
        rm_role,
        max_clients,
        _batch_id as batch_id,
        _source_file as source_file,
        _row_number as source_row_number
    from source
)

select * from renamed
