-- Per customer and month: complaints opened in (as_of_date - 90 days, as_of_date], and how
-- many of them were high severity. A complaint re-delivered later keeps its latest version.
with months as (
    select * from {{ ref('int_months') }}
),

latest as (
    {{ latest_delivery(ref('stg_core__complaints'), ['complaint_id']) }}
),

final as (
    select
        latest.customer_id,
        months.as_of_date,
        count(*) as complaints_90d,
        count(case when latest.severity = 'high' then 1 end) as high_complaints_90d
    from latest
    inner join months
        on
            cast(latest.opened_at as date) > {{ add_days('months.as_of_date', -90) }}
            and cast(latest.opened_at as date) <= months.as_of_date
    where {{ incremental_months('months.as_of_date') }}
    group by latest.customer_id, months.as_of_date
)

select * from final
