-- One row per month loaded (a batch's as_of_date), up to the run's as_of_month.
with batches as (
    select * from {{ ref('stg_core__load_batches') }}
),

first_loaded as (
    select min(batch_as_of_date) as first_as_of_date from batches
),

months as (
    select distinct batch_as_of_date as as_of_date from batches
),

final as (
    select
        months.as_of_date,
        {{ month_start('months.as_of_date') }} as month_start,
        {{ prev_month_end('months.as_of_date') }} as prev_as_of_date,
        cast(extract(day from months.as_of_date) as integer) as days_in_month,
        months.as_of_date = first_loaded.first_as_of_date as is_first_loaded_month
    from months
    cross join first_loaded
    where {{ within_run('months.as_of_date') }}
)

select * from final
