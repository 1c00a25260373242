{#- SCD2 history of each customer's tier and segments, in business time: a new version starts
    at the as_of_date of the first month of a changed state (state_since), so an auditor can
    ask "what tier was customer X in on date D, under which threshold version":
    dbt_valid_from <= D and (dbt_valid_to > D or dbt_valid_to is null).
    Taken at every monthly run from the latest month built; customers who leave the book are
    closed (hard_deletes: invalidate) at the time of the run that no longer sees them. When the
    state began is int_customer_state_since's (carried month to month, so a month's snapshot
    reads the latest month, not the whole history). -#}
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

    state_since as (
        select * from {{ ref('int_customer_state_since') }}
    ),

    latest_month as (
        select max(as_of_date) as as_of_date from tiers
    )

    select
        tiers.customer_id,
        tiers.as_of_date,
        tiers.tier,
        tiers.tier_rank,
        tiers.threshold_version,
        tiers.activity_segment,
        tiers.risk_segment,
        tiers.life_stage,
        tiers.depth_segment,
        tiers.segment_code,
        cast(state_since.state_since as timestamp) as state_since
    from tiers
    inner join latest_month on tiers.as_of_date = latest_month.as_of_date
    inner join state_since
        on tiers.customer_id = state_since.customer_id and tiers.as_of_date = state_since.as_of_date
{% endsnapshot %}
