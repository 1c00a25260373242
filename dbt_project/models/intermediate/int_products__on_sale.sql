-- Products on sale each month (launched_on <= as_of_date, retired_on empty or later), from
-- the month's batch, with family, risk rank and min_purchase in CNY at the month-end rate.
with products as (
    select * from {{ ref('stg_core__products') }}
),

month_batches as (
    select * from {{ ref('int_month_batches') }}
),

families as (
    select * from {{ ref('product_families') }}
),

fx as (
    select * from {{ ref('int_fx_rates__monthly') }}
),

final as (
    select
        month_batches.as_of_date,
        products.product_code,
        products.category,
        families.family,
        families.aum_component,
        products.risk_rating,
        products.currency,
        products.min_purchase,
        cast(substring(products.risk_rating, 2, 1) as integer) as risk_rank,
        cast(coalesce(products.min_purchase, 0) * fx.cny_per_unit as decimal(18, 2)) as min_purchase_cny
    from products
    inner join month_batches on products.batch_id = month_batches.batch_id
    left join families on products.category = families.category
    left join fx on month_batches.as_of_date = fx.as_of_date and products.currency = fx.currency
    where
        products.launched_on <= month_batches.as_of_date
        and (products.retired_on is null or products.retired_on > month_batches.as_of_date)
)

select * from final
