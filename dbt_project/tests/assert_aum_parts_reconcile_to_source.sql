-- AUM parts reconcile to the landed source within 0.01 CNY per customer and month:
-- month-end deposits = sum of month-end ledger balances of open accounts x the month's FX
-- rate, investments = sum of month-end holding values x FX. Recomputed from staging, not from
-- the intermediate models, so a mistake there cannot hide here. The months a run wrote
-- (tested_months; every month on a full refresh).
with marts as (
    select * from {{ ref('fct_customer_month') }}
    where {{ tested_months('as_of_date') }}
),

batches as (
    select * from {{ ref('stg_core__load_batches') }}
    where {{ tested_months('batch_as_of_date') }}
),

rates as (
    select
        batches.batch_as_of_date as as_of_date,
        fx.currency,
        fx.cny_per_unit,
        row_number() over (partition by batches.batch_as_of_date, fx.currency order by fx.rate_date desc) as recency
    from {{ ref('stg_core__fx_rates') }} as fx
    inner join batches on fx.rate_date <= batches.batch_as_of_date
),

month_rates as (
    select
        as_of_date,
        currency,
        cny_per_unit
    from rates
    where recency = 1
    union all
    select
        batch_as_of_date as as_of_date,
        'CNY' as currency,
        1 as cny_per_unit
    from batches
),

source_deposits as (
    select
        account_rows.customer_id,
        balances.as_of_date,
        sum(balances.ledger_balance * month_rates.cny_per_unit) as deposit_eom_cny
    from {{ ref('stg_core__deposit_balances') }} as balances
    inner join batches on balances.batch_id = batches.batch_id and balances.as_of_date = batches.batch_as_of_date
    inner join {{ ref('stg_core__accounts') }} as account_rows
        on balances.account_id = account_rows.account_id and balances.batch_id = account_rows.batch_id
    inner join month_rates
        on balances.as_of_date = month_rates.as_of_date and account_rows.currency = month_rates.currency
    where account_rows.closed_on is null or account_rows.closed_on > balances.as_of_date
    group by account_rows.customer_id, balances.as_of_date
),

source_investments as (
    select
        holdings.customer_id,
        holdings.as_of_date,
        sum(holdings.holding_value * month_rates.cny_per_unit) as investment_eom_cny
    from {{ ref('stg_core__product_holdings') }} as holdings
    inner join {{ ref('stg_core__products') }} as products
        on holdings.product_code = products.product_code and holdings.batch_id = products.batch_id
    inner join {{ ref('product_families') }} as families on products.category = families.category
    inner join month_rates on holdings.as_of_date = month_rates.as_of_date and products.currency = month_rates.currency
    where families.aum_component = 'investment'
    group by holdings.customer_id, holdings.as_of_date
)

select
    marts.customer_id,
    marts.as_of_date,
    marts.deposit_eom_cny,
    source_deposits.deposit_eom_cny as source_deposit_eom_cny,
    marts.investment_eom_cny,
    source_investments.investment_eom_cny as source_investment_eom_cny
from marts
left join source_deposits
    on marts.customer_id = source_deposits.customer_id and marts.as_of_date = source_deposits.as_of_date
left join source_investments
    on marts.customer_id = source_investments.customer_id and marts.as_of_date = source_investments.as_of_date
where
    abs(marts.deposit_eom_cny - coalesce(source_deposits.deposit_eom_cny, 0)) > 0.01
    or abs(marts.investment_eom_cny - coalesce(source_investments.investment_eom_cny, 0)) > 0.01
