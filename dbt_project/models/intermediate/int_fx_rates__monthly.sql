-- CNY per unit of each currency for each month: the latest rate on or before as_of_date
-- (docs/business-rules.md). CNY is 1. A currency without any rate has no row, so a join to it yields
-- null and the not_null tests on the CNY amounts fail: a missing rate is an error, not zero.
with months as (
    select * from {{ ref('int_months') }}
),

-- A rate re-delivered in a later batch replaces the earlier value.
latest_delivery as (
    {{ latest_delivery(ref('stg_core__fx_rates'), ['currency', 'rate_date']) }}
),

ranked as (
    select
        months.as_of_date,
        latest_delivery.currency,
        latest_delivery.rate_date,
        latest_delivery.cny_per_unit,
        row_number() over (
            partition by months.as_of_date, latest_delivery.currency order by latest_delivery.rate_date desc
        ) as recency
    from months
    inner join latest_delivery
        on months.as_of_date >= latest_delivery.rate_date
),

final as (
    select
        as_of_date,
        currency,
        rate_date,
        cast(cny_per_unit as decimal(18, 6)) as cny_per_unit
    from ranked
    where recency = 1
    union all
    select
        as_of_date,
        'CNY' as currency,
        as_of_date as rate_date,
        cast(1 as decimal(18, 6)) as cny_per_unit
    from months
)

select * from final
