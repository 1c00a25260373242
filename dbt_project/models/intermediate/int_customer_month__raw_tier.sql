-- Raw tier per customer-month: the highest tier whose min_aum_cny <= aum_cny under the
-- threshold version in force (latest effective_from <= as_of_date; a month before every
-- version's effective_from, as in a bank's history older than its first version, takes the
-- earliest version); an AUM below every threshold (negative after an overdraft) gets the lowest
-- tier. HNW flag from tier_policy.
with customer_month as (
    select * from {{ ref('int_customer_month__measures') }}
    where {{ incremental_months('as_of_date') }}
),

thresholds as (
    select * from {{ ref('tier_thresholds') }}
),

hnw as (
    {{ policy_select('hnw_min_aum_cny', 'hnw_min_aum_cny', 'decimal(18, 2)') }}
),

months as (
    select distinct as_of_date from customer_month
),

latest_started as (
    select
        as_of_date,
        version
    from (
        select
            months.as_of_date,
            thresholds.version,
            row_number() over (
                partition by months.as_of_date order by thresholds.effective_from desc, thresholds.version desc
            ) as recency
        from months
        inner join thresholds on months.as_of_date >= thresholds.effective_from
    ) as ranked
    where recency = 1
),

first_version as (
    select version
    from (
        select
            version,
            row_number() over (order by effective_from asc, version asc) as earliness
        from thresholds
    ) as ranked
    where earliness = 1
),

-- every month gets a version: no customer-month is dropped for want of one
version_in_force as (
    select
        months.as_of_date,
        coalesce(latest_started.version, first_version.version) as threshold_version
    from months
    cross join first_version
    left join latest_started on months.as_of_date = latest_started.as_of_date
),

lowest as (
    select
        version,
        min(tier_rank) as lowest_rank
    from thresholds
    group by version
),

qualifying as (
    select
        customer_month.customer_id,
        customer_month.as_of_date,
        max(thresholds.tier_rank) as qualifying_rank
    from customer_month
    inner join version_in_force on customer_month.as_of_date = version_in_force.as_of_date
    inner join thresholds
        on version_in_force.threshold_version = thresholds.version and customer_month.aum_cny >= thresholds.min_aum_cny
    group by customer_month.customer_id, customer_month.as_of_date
),

final as (
    select
        customer_month.customer_id,
        customer_month.as_of_date,
        customer_month.aum_cny,
        version_in_force.threshold_version,
        coalesce(qualifying.qualifying_rank, lowest.lowest_rank) as raw_tier_rank,
        customer_month.aum_cny >= hnw.hnw_min_aum_cny as is_hnw
    from customer_month
    cross join hnw
    inner join version_in_force on customer_month.as_of_date = version_in_force.as_of_date
    inner join lowest on version_in_force.threshold_version = lowest.version
    left join qualifying
        on customer_month.customer_id = qualifying.customer_id and customer_month.as_of_date = qualifying.as_of_date
)

select * from final
