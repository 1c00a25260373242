-- Customers on book (docs/business-rules.md): onboarded by as_of_date and holding at least one open
-- deposit account or a product holding with holding_value > 0 at that date.
with customers as (
    select * from {{ ref('int_customers__monthly') }}
),

deposits as (
    select * from {{ ref('int_customer_month__deposits') }}
),

holdings as (
    select * from {{ ref('int_customer_month__holdings') }}
),

final as (
    select
        customers.customer_id,
        customers.as_of_date
    from customers
    left join deposits
        on customers.customer_id = deposits.customer_id and customers.as_of_date = deposits.as_of_date
    left join holdings
        on customers.customer_id = holdings.customer_id and customers.as_of_date = holdings.as_of_date
    where
        customers.onboarded_on <= customers.as_of_date
        and {{ incremental_months('customers.as_of_date') }}
        and (coalesce(deposits.open_deposit_accounts, 0) > 0 or coalesce(holdings.positive_holdings, 0) > 0)
)

select * from final
