-- Month-end product holdings with category, family and CNY value at the month-end rate.
with holdings as (
    select * from {{ ref('stg_core__product_holdings') }}
),

products as (
    select * from {{ ref('stg_core__products') }}
),

families as (
    select * from {{ ref('product_families') }}
),

months as (
    select * from {{ ref('int_months') }}
),

fx as (
    select * from {{ ref('int_fx_rates__monthly') }}
),

final as (
    select
        holdings.customer_id,
        holdings.product_code,
        holdings.as_of_date,
        products.category,
        families.family,
        families.aum_component,
        holdings.units,
        holdings.holding_value,
        products.currency,
        fx.cny_per_unit,
        cast(holdings.holding_value * fx.cny_per_unit as decimal(18, 6)) as holding_value_cny,
        holdings.batch_id,
        holdings.source_file,
        holdings.source_row_number
    from holdings
    inner join months on holdings.as_of_date = months.as_of_date
    left join products on holdings.product_code = products.product_code and holdings.batch_id = products.batch_id
    left join families on products.category = families.category
    left join fx on holdings.as_of_date = fx.as_of_date and products.currency = fx.currency
    where {{ incremental_months('holdings.as_of_date') }}
)

select * from final
