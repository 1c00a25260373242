-- Monthly KPIs per held tier. Every tier of the threshold version in force appears each
-- month (0 customers if empty). Retention compares with last month's members of the tier:
-- AUM retention = their AUM this month (0 if they left) / their AUM last month (资产留存率);
-- customer retention = share of them still on book (macros/retention.sql, shared with
-- rpt_bank_kpis). Both are null when last month is not built.
-- Incremental by month (dbt_project.yml): a month's rows need that month's and the previous
-- month's tiers and measures.
with tiers as (
    select * from {{ ref('fct_customer_tier') }}
),

run_tiers as (
    select * from tiers
    where {{ incremental_months('as_of_date') }}
),

customer_month as (
    select * from {{ ref('fct_customer_month') }}
),

rm as (
    select * from {{ ref('int_customer_month__rm') }}
),

months as (
    select * from {{ ref('int_months') }}
    where {{ incremental_months('as_of_date') }}
),

thresholds as (
    select * from {{ ref('tier_thresholds') }}
),

grid as (
    select distinct
        run_tiers.as_of_date,
        thresholds.tier,
        thresholds.tier_rank
    from run_tiers
    inner join thresholds on run_tiers.threshold_version = thresholds.version
),

current_members as (
    select
        run_tiers.as_of_date,
        run_tiers.tier,
        count(*) as customers,
        sum(customer_month.aum_cny) as aum_cny,
        sum(customer_month.product_categories_held) as product_categories_held,
        count(rm.rm_id) as customers_with_rm,
        avg(cast(customer_month.product_categories_held as double)) as avg_product_categories,
        avg(case when rm.rm_id is not null then cast(1 as double) else cast(0 as double) end) as rm_coverage_rate
    from run_tiers
    inner join customer_month
        on run_tiers.customer_id = customer_month.customer_id and run_tiers.as_of_date = customer_month.as_of_date
    left join rm on run_tiers.customer_id = rm.customer_id and run_tiers.as_of_date = rm.as_of_date
    group by run_tiers.as_of_date, run_tiers.tier
),

month_totals as (
    select
        as_of_date,
        sum(aum_cny) as total_aum_cny
    from customer_month
    where {{ incremental_months('as_of_date') }}
    group by as_of_date
),

retention as (
    {{ last_month_customers(by='tier') }}
),

final as (
    select
        grid.as_of_date,
        grid.tier,
        grid.tier_rank,
        cast(coalesce(current_members.customers, 0) as integer) as customers,
        cast(coalesce(current_members.aum_cny, 0) as decimal(18, 2)) as aum_cny,
        cast(current_members.avg_product_categories as double) as avg_product_categories,
        cast(current_members.rm_coverage_rate as double) as rm_coverage_rate,
        retention.aum_retention_rate,
        retention.customer_retention_rate,
        -- the parts of the ratios above, for sums over tiers and months (the semantic layer)
        cast(coalesce(current_members.product_categories_held, 0) as integer) as product_categories_held,
        cast(coalesce(current_members.customers_with_rm, 0) as integer) as customers_with_rm,
        cast(retention.customers_last_month as integer) as customers_last_month,
        cast(retention.still_on_book as integer) as customers_retained,
        cast(retention.aum_last_month_cny as decimal(18, 2)) as aum_last_month_cny,
        cast(retention.aum_retained_cny as decimal(18, 2)) as aum_retained_cny,
        -- ratios in double on every engine (DuckDB divides decimals in double; Spark would not)
        cast(coalesce(current_members.aum_cny, 0) as double)
        / nullif(cast(month_totals.total_aum_cny as double), 0) as aum_share
    from grid
    inner join months on grid.as_of_date = months.as_of_date
    left join current_members on grid.as_of_date = current_members.as_of_date and grid.tier = current_members.tier
    left join month_totals on grid.as_of_date = month_totals.as_of_date
    left join retention on grid.as_of_date = retention.as_of_date and grid.tier = retention.tier
)

select * from final
