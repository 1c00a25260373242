-- Each customer's relationship manager at month end: the assignment from the month's batch
-- with valid_from <= as_of_date and (valid_to null or >= as_of_date). Should a source ever
-- deliver overlapping assignments, the latest valid_from wins (then the higher rm_id).
with assignments as (
    select * from {{ ref('stg_core__rm_assignments') }}
),

month_batches as (
    select * from {{ ref('int_month_batches') }}
),

valid as (
    select
        assignments.customer_id,
        month_batches.as_of_date,
        assignments.rm_id,
        row_number() over (
            partition by assignments.customer_id, month_batches.as_of_date
            order by assignments.valid_from desc, assignments.rm_id desc
        ) as preference
    from assignments
    inner join month_batches on assignments.batch_id = month_batches.batch_id
    where
        assignments.valid_from <= month_batches.as_of_date
        and (assignments.valid_to is null or assignments.valid_to >= month_batches.as_of_date)
        and {{ incremental_months('month_batches.as_of_date') }}
),

final as (
    select
        customer_id,
        as_of_date,
        rm_id
    from valid
    where preference = 1
)

select * from final
