{#- SCD2 history of each customer's tier and segments, in business time: a new version starts
    at the as_of_date of the first month of a changed state (state_since), so an auditor can
    ask "what tier was customer X in on date D, under which threshold version":
    dbt_valid_from <= D and (dbt_valid_to > D or dbt_valid_to is null).
    Taken at every monthly run from the latest month built; customers who leave the book are
    closed (hard_deletes: invalidate) at the time of the run that no longer sees them. -#}
{% snapshot snap_customer_tier %}
    {{
        config(
            target_schema='history',
            unique_key='customer_id',
            strategy='timestamp',
            updated_at='state_since',
            hard_deletes='invalidate',
        )
    }}

    with tiers as (
        select * from {{ ref('fct_customer_tier') }}
    ),

    keyed as (
        select
            *,
            concat(
                tier, '|', threshold_version, '|', activity_segment, '|', risk_segment, '|', life_stage, '|',
                depth_segment
            ) as state_key
        from tiers
    ),

    changes as (
        select
            *,
            case
                when
                    lag(state_key) over (partition by customer_id order by as_of_date) = state_key
                    and lag(as_of_date) over (partition by customer_id order by as_of_date)
                    = {{ prev_month_end('as_of_date') }}
                    then 0
                else 1
            end as is_change
        from keyed
    ),

    latest_month as (
        select max(as_of_date) as as_of_date from tiers
    ),

    state_start as (
        select
            customer_id,
            max(as_of_date) as state_since_date
        from changes
        where is_change = 1
        group by customer_id
    )

    select
        changes.customer_id,
        changes.as_of_date,
        changes.tier,
        changes.tier_rank,
        changes.threshold_version,
        changes.activity_segment,
        changes.risk_segment,
        changes.life_stage,
        changes.depth_segment,
        changes.segment_code,
        cast(state_start.state_since_date as timestamp) as state_since
    from changes
    inner join latest_month on changes.as_of_date = latest_month.as_of_date
    inner join state_start on changes.customer_id = state_start.customer_id
{% endsnapshot %}
