-- Each customer's master row as delivered in the month's batch, with age-derived segments.
with customers as (
    select * from {{ ref('stg_core__customers') }}
),

month_batches as (
    select * from {{ ref('int_month_batches') }}
),

bands as (
    select * from {{ ref('segment_bands') }}
),

risk_segments as (
    select * from {{ ref('risk_segments') }}
),

policy as (
    {{ policy_select('risk_assessment_valid_months', 'valid_months') }}
),

snapshot as (
    select
        customers.*,
        month_batches.as_of_date,
        {{ age_years('customers.birth_date', 'month_batches.as_of_date') }} as age_years
    from customers
    inner join month_batches on customers.batch_id = month_batches.batch_id
    where {{ incremental_months('month_batches.as_of_date') }}
),

final as (
    select
        snapshot.customer_id,
        snapshot.as_of_date,
        snapshot.masked_name,
        snapshot.gender,
        snapshot.birth_date,
        snapshot.age_years,
        age_band.segment as age_band,
        life_stage.segment as life_stage,
        snapshot.home_branch_id,
        snapshot.onboarded_on,
        snapshot.is_payroll,
        snapshot.risk_level,
        snapshot.risk_assessed_on,
        risk_segments.risk_segment,
        coalesce(
            snapshot.risk_assessed_on is not null
            and snapshot.risk_assessed_on >= {{ add_months('snapshot.as_of_date', '-1 * policy.valid_months') }},
            false
        ) as risk_assessment_valid,
        snapshot.batch_id,
        snapshot.source_file,
        snapshot.source_row_number
    from snapshot
    cross join policy
    left join bands as age_band
        on
            age_band.segment_type = 'age_band'
            and snapshot.age_years >= age_band.min_value
            and (age_band.max_value is null or snapshot.age_years <= age_band.max_value)
    left join bands as life_stage
        on
            life_stage.segment_type = 'life_stage'
            and snapshot.age_years >= life_stage.min_value
            and (life_stage.max_value is null or snapshot.age_years <= life_stage.max_value)
    left join risk_segments on coalesce(snapshot.risk_level, 'none') = risk_segments.risk_level
)

select * from final
