-- Exactly one fct_customer_tier row per customer on book per month, and none for anyone off
-- book (fct_customer_month is the list of customers on book). The months a run wrote
-- (tested_months; every month on a full refresh).
with on_book as (
    select
        customer_id,
        as_of_date
    from {{ ref('fct_customer_month') }}
    where {{ tested_months('as_of_date') }}
),

tiers as (
    select
        customer_id,
        as_of_date,
        count(*) as tier_rows
    from {{ ref('fct_customer_tier') }}
    where {{ tested_months('as_of_date') }}
    group by customer_id, as_of_date
)

select
    tiers.tier_rows,
    coalesce(on_book.customer_id, tiers.customer_id) as customer_id,
    coalesce(on_book.as_of_date, tiers.as_of_date) as as_of_date,
    on_book.customer_id is not null as is_on_book
from on_book
full outer join tiers on on_book.customer_id = tiers.customer_id and on_book.as_of_date = tiers.as_of_date
where on_book.customer_id is null or tiers.tier_rows is null or tiers.tier_rows <> 1
