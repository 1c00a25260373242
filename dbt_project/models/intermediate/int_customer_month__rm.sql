-- Each customer's relationship manager at month end: the assignment from the month's batch
-- with valid_from <= as_of_date and (valid_to null or >= as_of_date). Should a source ever
-- deliver overlapping assignments, the latest valid_from wins (then the higher rm_id).
with assignments as (
    select * from {{ ref('stg_core__rm_assignments') }}
),

batches as (
    select * from {{ ref('stg_core__load_batches') }}
),

months as (
    select * from {{ ref('int_months') }}
),

valid as (
    select
        assignments.customer_id,
        months.as_of_date,
        assignments.rm_id,
        row_number() over (
            partition by assignments.customer_id, months.as_of_date
            order by assignments.valid_from desc, assignments.rm_id desc
        ) as preference
    from assignments
    inner join batches on assignments.batch_id = batches.batch_id
    inner join months on batches.batch_as_of_date = months.as_of_date
    where
        assignments.valid_from <= months.as_of_date
        and (assignments.valid_to is null or assignments.valid_to >= months.as_of_date)
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
