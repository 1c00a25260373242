-- CNY per unit of each currency for each month: the latest rate on or before as_of_date
-- (DOMAIN.md). CNY is 1. A currency without any rate has no row, so a join to it yields
-- null and the not_null tests on the CNY amounts fail: a missing rate is an error, not zero.
with rates as (
    select * from {{ ref('stg_core__fx_rates') }}
),

batches as (
    select * from {{ ref('stg_core__load_batches') }}
),

months as (
    select * from {{ ref('int_months') }}
),

-- A rate re-delivered in a later batch replaces the earlier value.
latest_delivery as (
    select
        rates.currency,
        rates.rate_date,
        rates.cny_per_unit,
        row_number() over (
            partition by rates.currency, rates.rate_date order by batches.batch_as_of_date desc
        ) as delivery_rank
    from rates
    inner join batches on rates.batch_id = batches.batch_id
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
        on months.as_of_date >= latest_delivery.rate_date and latest_delivery.delivery_rank = 1
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
