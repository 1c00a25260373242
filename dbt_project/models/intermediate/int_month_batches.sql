-- Which batch serves each month: the batch whose as_of_date is the month end. Master tables
-- (customers, accounts, products, RMs, assignments) are full snapshots per batch, so a month's
-- attributes come from its own batch.
with batches as (
    select * from {{ ref('stg_core__load_batches') }}
),

months as (
    select * from {{ ref('int_months') }}
),

final as (
    select
        batches.batch_id,
        months.as_of_date
    from batches
    inner join months on batches.batch_as_of_date = months.as_of_date
)

select * from final
