-- Bank-wide KPIs per month (全行经营指标), one row per month built: customers on book and their
-- AUM; retention of last month's customers (资产留存率 / 客户留存率) and how they moved
-- (upgrade / downgrade / attrition shares of last month's customers); RM coverage; AUM
-- concentration (top 1% / top 10% shares and the Gini coefficient of customer AUM, negative
-- AUM counted as 0, the top k% being the ceil(k% x customers) largest). Rates over last
-- month's customers are null when last month was not built (the first month).
-- Incremental by month (dbt_project.yml): a month's row needs that month's and the previous
-- month's tiers and measures.
with tiers as (
    select * from {{ ref('fct_customer_tier') }}
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

on_book as (
    select
        tiers.as_of_date,
        tiers.customer_id,
        tiers.tier_change,
        customer_month.aum_cny,
        -- concentration counts debt above assets as no AUM
        cast(greatest(customer_month.aum_cny, 0) as double) as aum_at_least_zero,
        case when rm.rm_id is not null then cast(1 as double) else cast(0 as double) end as has_rm
    from tiers
    inner join customer_month
        on tiers.customer_id = customer_month.customer_id and tiers.as_of_date = customer_month.as_of_date
    left join rm on tiers.customer_id = rm.customer_id and tiers.as_of_date = rm.as_of_date
    where {{ incremental_months('tiers.as_of_date') }}
),

ranked as (
    select
        as_of_date,
        aum_at_least_zero,
        row_number() over (partition by as_of_date order by aum_at_least_zero asc) as ascending_rank,
        row_number() over (partition by as_of_date order by aum_at_least_zero desc) as descending_rank,
        count(*) over (partition by as_of_date) as customers_in_month
    from on_book
),

concentration as (
    select
        as_of_date,
        max(customers_in_month) as customers,
        sum(aum_at_least_zero) as total_aum,
        sum(ascending_rank * aum_at_least_zero) as rank_weighted_aum,
        sum(
            case when descending_rank <= ceil(cast(customers_in_month as double) / 100) then aum_at_least_zero end
        ) as top1_aum,
        sum(
            case when descending_rank <= ceil(cast(customers_in_month as double) / 10) then aum_at_least_zero end
        ) as top10_aum
    from ranked
    group by as_of_date
),

month_figures as (
    select
        as_of_date,
        count(*) as customers,
        sum(aum_cny) as aum_cny,
        avg(has_rm) as rm_coverage_rate,
        sum(has_rm) as customers_with_rm,
        sum(case when tier_change = 'up' then 1 else 0 end) as upgraded,
        sum(case when tier_change = 'down' then 1 else 0 end) as downgraded
    from on_book
    group by as_of_date
),

last_month_customers as (
    {{ last_month_customers() }}
),

final as (
    select
        months.as_of_date,
        cast(month_figures.customers as integer) as customers,
        cast(month_figures.aum_cny as decimal(18, 2)) as aum_cny,
        cast(last_month_customers.customers_last_month as integer) as customers_last_month,
        cast(month_figures.rm_coverage_rate as double) as rm_coverage_rate,
        last_month_customers.aum_retention_rate,
        last_month_customers.customer_retention_rate,
        -- the parts of the rates below, for sums over months (the semantic layer, docs/metrics.md)
        cast(month_figures.upgraded as integer) as upgraded_customers,
        cast(month_figures.downgraded as integer) as downgraded_customers,
        cast(last_month_customers.still_on_book as integer) as customers_retained,
        cast(last_month_customers.aum_last_month_cny as decimal(18, 2)) as aum_last_month_cny,
        cast(last_month_customers.aum_retained_cny as decimal(18, 2)) as aum_retained_cny,
        cast(month_figures.customers_with_rm as integer) as customers_with_rm,
        cast(last_month_customers.customers_last_month - last_month_customers.still_on_book as integer)
            as departed_customers,
        -- ratios in double on every engine (DuckDB divides decimals in double; Spark would not)
        cast(month_figures.upgraded as double) / last_month_customers.customers_last_month as upgrade_rate,
        cast(month_figures.downgraded as double) / last_month_customers.customers_last_month as downgrade_rate,
        cast(last_month_customers.customers_last_month - last_month_customers.still_on_book as double)
        / last_month_customers.customers_last_month as attrition_rate,
        concentration.top1_aum / nullif(concentration.total_aum, 0) as top1_aum_share,
        concentration.top10_aum / nullif(concentration.total_aum, 0) as top10_aum_share,
        -- Gini = 2 * sum(i * x_i) / (n * sum x) - (n + 1) / n, x ascending, i from 1
        case
            when concentration.total_aum > 0
                then
                    2 * concentration.rank_weighted_aum / (concentration.customers * concentration.total_aum)
                    - cast(concentration.customers + 1 as double) / concentration.customers
        end as aum_gini
    from months
    inner join month_figures on months.as_of_date = month_figures.as_of_date
    inner join concentration on months.as_of_date = concentration.as_of_date
    left join last_month_customers on months.as_of_date = last_month_customers.as_of_date
)

select * from final
