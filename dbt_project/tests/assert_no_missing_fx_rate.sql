-- A currency with no rate on or before the month end is a data error, not a zero (docs/business-rules.md):
-- every deposit account and holding must find its month's rate (in the months a run wrote).
with accounts as (
    select
        account_id as item,
        as_of_date,
        currency,
        cny_per_unit
    from {{ ref('int_account_month_balances') }}
    where {{ tested_months('as_of_date') }}
),

holdings as (
    select
        concat(customer_id, '/', product_code) as item,
        as_of_date,
        currency,
        cny_per_unit
    from {{ ref('int_holdings__monthly') }}
    where {{ tested_months('as_of_date') }}
)

select * from accounts
where cny_per_unit is null
union all
select * from holdings
where cny_per_unit is null
