-- Segments per customer-month (三分: 分层 / 分群 / 分类), all boundaries from seeds:
-- activity from customer_txn_count summed over the trailing window (this month and the ones
-- before; months off book count 0), risk from the month's risk level, life stage and age band
-- from age at as_of_date, depth from the product families held (payroll -> ecosystem).
with measures as (
    select * from {{ ref('int_customer_month__measures') }}
),

-- the months this run writes; `measures` keeps every month for the trailing window
run_measures as (
    select * from measures
    where {{ incremental_months('as_of_date') }}
),

customers as (
    select * from {{ ref('int_customers__monthly') }}
),

categories as (
    select * from {{ ref('int_customer_month__categories') }}
),

bands as (
    select * from {{ ref('segment_bands') }}
),

depth_rules as (
    select * from {{ ref('depth_segments') }}
),

window_policy as (
    {{ policy_select('activity_window_months', 'window_months') }}
),

trailing_window as (
    select
        measures.customer_id,
        measures.as_of_date,
        sum(history.customer_txn_count) as trailing_txn_count
    from run_measures as measures
    cross join window_policy
    inner join measures as history
        on
            measures.customer_id = history.customer_id
            and history.as_of_date <= measures.as_of_date
            -- month ends: June 30 minus 3 months must mean March 31, not March 30
            and history.as_of_date
            > {{ month_end(add_months('measures.as_of_date', '-1 * window_policy.window_months')) }}
    group by measures.customer_id, measures.as_of_date
),

families as (
    select
        customer_id,
        as_of_date,
        count(distinct family) as families_held
    from categories
    where {{ incremental_months('as_of_date') }}
    group by customer_id, as_of_date
),

depth as (
    select
        customer_id,
        as_of_date,
        families_held,
        depth_segment
    from (
        select
            families.customer_id,
            families.as_of_date,
            families.families_held,
            depth_rules.depth_segment,
            row_number() over (
                partition by families.customer_id, families.as_of_date
                order by depth_rules.requires_payroll desc, depth_rules.min_families desc
            ) as preference
        from families
        inner join customers
            on families.customer_id = customers.customer_id and families.as_of_date = customers.as_of_date
        inner join depth_rules
            on
                families.families_held >= depth_rules.min_families
                and (not depth_rules.requires_payroll or customers.is_payroll)
    ) as ranked
    where preference = 1
),

final as (
    select
        measures.customer_id,
        measures.as_of_date,
        trailing_window.trailing_txn_count,
        activity.segment as activity_segment,
        customers.risk_segment,
        customers.risk_assessment_valid,
        customers.life_stage,
        customers.age_band,
        depth.families_held,
        depth.depth_segment
    from run_measures as measures
    inner join
        trailing_window
        on measures.customer_id = trailing_window.customer_id and measures.as_of_date = trailing_window.as_of_date
    inner join customers
        on measures.customer_id = customers.customer_id and measures.as_of_date = customers.as_of_date
    left join depth on measures.customer_id = depth.customer_id and measures.as_of_date = depth.as_of_date
    left join bands as activity
        on
            activity.segment_type = 'activity'
            and trailing_window.trailing_txn_count >= activity.min_value
            and (activity.max_value is null or trailing_window.trailing_txn_count <= activity.max_value)
)

select * from final
