-- Distinct product categories (and families) each customer holds at month end: an open
-- deposit account, or a holding row present at month end (a card with nothing owed counts).
with accounts as (
    select * from {{ ref('int_account_month_balances') }}
),

holdings as (
    select * from {{ ref('int_holdings__monthly') }}
),

families as (
    select * from {{ ref('product_families') }}
),

held as (
    select
        customer_id,
        as_of_date,
        category
    from accounts
    where is_open_at_month_end and {{ incremental_months('as_of_date') }}
    union
    select
        customer_id,
        as_of_date,
        category
    from holdings
    where {{ incremental_months('as_of_date') }}
),

final as (
    select
        held.customer_id,
        held.as_of_date,
        held.category,
        families.family
    from held
    left join families on held.category = families.category
)

select * from final
