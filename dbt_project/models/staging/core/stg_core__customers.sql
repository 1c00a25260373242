with source as (
    select * from {{ source('core', 'customers') }}
),

renamed as (
    select
        customer_id,
        birth_date,
        gender,
        home_branch_id,
        onboarded_on,
        risk_level,
        risk_assessed_on,
        is_payroll,
        updated_at,
        {{ mask_name('full_name') }} as masked_name,
        _batch_id as batch_id,
        _source_file as source_file,
        _row_number as source_row_number
    from source
)

select * from renamed
