-- One row per customer on book and month: the monthly measures of docs/business-rules.md, all in CNY.
-- fct_customer_month (the contracted mart), the segments (their trailing activity window reads
-- earlier months) and the tier logic all read it, so it is a month-incremental table
-- (dbt_project.yml), not a view recomputed by each reader over the whole history.
with on_book as (
    select * from {{ ref('int_customers__on_book') }}
    where {{ incremental_months('as_of_date') }}
),

deposits as (
    select * from {{ ref('int_customer_month__deposits') }}
    where {{ incremental_months('as_of_date') }}
),

holdings as (
    select * from {{ ref('int_customer_month__holdings') }}
    where {{ incremental_months('as_of_date') }}
),

activity as (
    select * from {{ ref('int_customer_month__activity') }}
    where {{ incremental_months('as_of_date') }}
),

complaints as (
    select * from {{ ref('int_customer_month__complaints') }}
    where {{ incremental_months('as_of_date') }}
),

categories as (
    select
        customer_id,
        as_of_date,
        count(distinct category) as product_categories_held
    from {{ ref('int_customer_month__categories') }}
    where {{ incremental_months('as_of_date') }}
    group by customer_id, as_of_date
),

final as (
    select
        on_book.customer_id,
        on_book.as_of_date,
        cast(coalesce(deposits.deposit_adb_cny, 0) + coalesce(holdings.investment_eom_cny, 0) as decimal(18, 2))
            as aum_cny,
        cast(coalesce(deposits.deposit_adb_cny, 0) as decimal(18, 2)) as deposit_adb_cny,
        cast(coalesce(deposits.deposit_eom_cny, 0) as decimal(18, 2)) as deposit_eom_cny,
        cast(coalesce(holdings.investment_eom_cny, 0) as decimal(18, 2)) as investment_eom_cny,
        cast(coalesce(holdings.credit_outstanding_cny, 0) as decimal(18, 2)) as credit_outstanding_cny,
        cast(coalesce(categories.product_categories_held, 0) as integer) as product_categories_held,
        cast(coalesce(activity.customer_txn_count, 0) as integer) as customer_txn_count,
        cast(coalesce(activity.inflow_cny, 0) as decimal(18, 2)) as inflow_cny,
        cast(coalesce(activity.outflow_cny, 0) as decimal(18, 2)) as outflow_cny,
        cast(coalesce(activity.interbank_outflow_cny, 0) as decimal(18, 2)) as interbank_outflow_cny,
        cast(coalesce(complaints.complaints_90d, 0) as integer) as complaints_90d,
        cast(coalesce(deposits.maturing_30d_cny, 0) as decimal(18, 2)) as maturing_30d_cny
    from on_book
    left join deposits on on_book.customer_id = deposits.customer_id and on_book.as_of_date = deposits.as_of_date
    left join holdings on on_book.customer_id = holdings.customer_id and on_book.as_of_date = holdings.as_of_date
    left join activity on on_book.customer_id = activity.customer_id and on_book.as_of_date = activity.as_of_date
    left join complaints
        on on_book.customer_id = complaints.customer_id and on_book.as_of_date = complaints.as_of_date
    left join categories
        on on_book.customer_id = categories.customer_id and on_book.as_of_date = categories.as_of_date
)

select * from final
