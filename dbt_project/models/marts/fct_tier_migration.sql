-- Tier migration per month: from last month's held tier to this month's. New customers come
-- from 'none'; customers on book last month and not this month go to 'left' (their AUM is
-- last month's, since they have none this month). Incremental by month (dbt_project.yml): a
-- month's rows need only that month's and the previous month's tiers.
with tiers as (
    select * from {{ ref('fct_customer_tier') }}
),

months as (
    select * from {{ ref('int_months') }}
    where {{ incremental_months('as_of_date') }}
),

stayed_or_new as (
    select
        as_of_date,
        coalesce(prior_tier, 'none') as from_tier,
        tier as to_tier,
        customer_id,
        aum_basis_cny as aum_cny
    from tiers
    where {{ incremental_months('as_of_date') }}
),

departed as (
    select
        months.as_of_date,
        previous.tier as from_tier,
        'left' as to_tier,
        previous.customer_id,
        previous.aum_basis_cny as aum_cny
    from months
    inner join tiers as previous on months.prev_as_of_date = previous.as_of_date
    left join tiers as current_month
        on previous.customer_id = current_month.customer_id and months.as_of_date = current_month.as_of_date
    where current_month.customer_id is null and {{ within_run('months.as_of_date') }}
),

movements as (
    select * from stayed_or_new
    union all
    select * from departed
),

final as (
    select
        as_of_date,
        from_tier,
        to_tier,
        cast(count(*) as integer) as customers,
        cast(sum(aum_cny) as decimal(18, 2)) as aum_cny
    from movements
    group by as_of_date, from_tier, to_tier
)

select * from final
