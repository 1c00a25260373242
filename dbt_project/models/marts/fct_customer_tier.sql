with state as (
    select * from {{ ref('int_customer_tier_state') }}
),

raw_tiers as (
    select * from {{ ref('int_customer_month__raw_tier') }}
),

segments as (
    select * from {{ ref('int_customer_month__segments') }}
),

thresholds as (
    select * from {{ ref('tier_thresholds') }}
),

final as (
    select
        state.customer_id,
        state.as_of_date,
        held.tier,
        cast(state.tier_rank as integer) as tier_rank,
        raw_tier.tier as raw_tier,
        prior_threshold.tier as prior_tier,
        state.tier_change,
        raw_tiers.aum_cny as aum_basis_cny,
        raw_tiers.is_hnw,
        cast(state.months_below_tier as integer) as months_below_tier,
        raw_tiers.threshold_version,
        segments.activity_segment,
        segments.risk_segment,
        segments.life_stage,
        segments.depth_segment,
        cast(state.raw_tier_rank as integer) as raw_tier_rank,
        state.grace_branch,
        concat(held.tier, '.', segments.risk_segment, '.', segments.depth_segment) as segment_code
    from state
    inner join raw_tiers on state.customer_id = raw_tiers.customer_id and state.as_of_date = raw_tiers.as_of_date
    inner join segments on state.customer_id = segments.customer_id and state.as_of_date = segments.as_of_date
    inner join thresholds as held
        on raw_tiers.threshold_version = held.version and state.tier_rank = held.tier_rank
    inner join thresholds as raw_tier
        on raw_tiers.threshold_version = raw_tier.version and state.raw_tier_rank = raw_tier.tier_rank
    left join thresholds as prior_threshold
        on raw_tiers.threshold_version = prior_threshold.version and state.prior_tier_rank = prior_threshold.tier_rank
    where {{ incremental_months('state.as_of_date') }}
)

select * from final
