-- One row per day of every month built (a loaded batch's month, up to the run's month), with
-- its month. The semantic layer's time spine (docs/metrics.md). Portable: the days come from a
-- 1..31 series (dbt.generate_series) cut at each month's length, not a dialect's date range.
with months as (
    select * from {{ ref('int_months') }}
),

day_numbers as (
    {{ dbt.generate_series(31) }}
),

final as (
    select
        cast({{ dbt.dateadd('day', 'day_numbers.generated_number - 1', 'months.month_start') }} as date) as date_day,
        cast(months.month_start as date) as month_start,
        cast(months.as_of_date as date) as as_of_date
    from months
    inner join day_numbers on months.days_in_month >= day_numbers.generated_number
)

select * from final
