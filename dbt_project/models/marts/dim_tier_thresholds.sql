-- The tier thresholds (分层标准) as published reference data: every version with its names, so a
-- report or BI query can label tiers in Chinese or English and say which version was in force.
with thresholds as (
    select * from {{ ref('tier_thresholds') }}
),

final as (
    select
        version as threshold_version,
        effective_from,
        tier,
        tier_rank,
        name_zh,
        name_en,
        min_aum_cny
    from thresholds
)

select * from final
