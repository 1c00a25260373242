-- Churn signals (流失预警) per customer on book and month. Thresholds and weights come from
-- seed churn_signals; each signal is evaluated as a row (signal, fired), so the score, the
-- reason order (weight desc, then name) and the weights stay data. "Previous months on book"
-- are the customer's rows in the lookback calendar months before this one (a customer back
-- after a long absence is not compared with a year-old month); with none, the signal cannot fire.
with measures as (
    select * from {{ ref('fct_customer_month') }}
),

tiers as (
    select * from {{ ref('fct_customer_tier') }}
),

complaints as (
    select * from {{ ref('int_customer_month__complaints') }}
),

rm as (
    select * from {{ ref('int_customer_month__rm') }}
),

signals as (
    select * from {{ ref('churn_signals') }}
),

bands as (
    select * from {{ ref('churn_bands') }}
),

policy as (
    select
        max(case when policy_key = 'churn_score_cap' then cast(policy_value as integer) end) as score_cap,
        max(case when policy_key = 'watchlist_min_tier_rank' then cast(policy_value as integer) end)
            as watchlist_min_tier_rank
    from {{ ref('tier_policy') }}
),

lookbacks as (
    select
        max(case when signal = 'sig_aum_drop' then lookback_months end) as aum_lookback,
        max(case when signal = 'sig_activity_drop' then lookback_months end) as activity_lookback
    from signals
),

history as (
    select
        current_month.customer_id,
        current_month.as_of_date,
        {{ mean_to_cent(
            "case when previous.as_of_date >= "
            ~ month_end(add_months('current_month.as_of_date', '-1 * lookbacks.aum_lookback'))
            ~ " then previous.aum_cny end"
        ) }} as prev_mean_aum_cny,
        avg(case
            when
                previous.as_of_date
                >= {{ month_end(add_months('current_month.as_of_date', '-1 * lookbacks.activity_lookback')) }}
                then cast(previous.customer_txn_count as double)
        end) as prev_mean_txn_count
    from measures as current_month
    cross join lookbacks
    inner join measures as previous
        on
            current_month.customer_id = previous.customer_id
            and current_month.as_of_date > previous.as_of_date
            and previous.as_of_date >= {{ month_end(add_months(
                'current_month.as_of_date', '-1 * greatest(lookbacks.aum_lookback, lookbacks.activity_lookback)'
            )) }}
    where {{ incremental_months('current_month.as_of_date') }}
    group by current_month.customer_id, current_month.as_of_date
),

inputs as (
    select
        measures.customer_id,
        measures.as_of_date,
        measures.aum_cny,
        measures.customer_txn_count,
        measures.interbank_outflow_cny,
        measures.maturing_30d_cny,
        measures.complaints_90d,
        tiers.tier,
        tiers.tier_rank,
        tiers.tier_change,
        tiers.months_below_tier,
        tiers.activity_segment,
        history.prev_mean_aum_cny,
        history.prev_mean_txn_count,
        last_month.aum_cny as last_month_aum_cny,
        last_tier.activity_segment as last_month_activity_segment,
        rm.rm_id,
        coalesce(complaints.high_complaints_90d, 0) as high_complaints_90d
    from measures
    inner join tiers on measures.customer_id = tiers.customer_id and measures.as_of_date = tiers.as_of_date
    left join history on measures.customer_id = history.customer_id and measures.as_of_date = history.as_of_date
    left join measures as last_month
        on
            measures.customer_id = last_month.customer_id
            and last_month.as_of_date = {{ prev_month_end('measures.as_of_date') }}
    left join tiers as last_tier
        on
            measures.customer_id = last_tier.customer_id
            and last_tier.as_of_date = {{ prev_month_end('measures.as_of_date') }}
    left join complaints
        on measures.customer_id = complaints.customer_id and measures.as_of_date = complaints.as_of_date
    left join rm on measures.customer_id = rm.customer_id and measures.as_of_date = rm.as_of_date
    where {{ incremental_months('measures.as_of_date') }}
),

evaluated as (
    select
        inputs.customer_id,
        inputs.as_of_date,
        signals.signal,
        signals.weight,
        coalesce(case signals.signal
            when 'sig_aum_drop'
                then
                    inputs.prev_mean_aum_cny >= signals.min_value
                    and inputs.aum_cny < signals.ratio_threshold * inputs.prev_mean_aum_cny
            when 'sig_interbank_outflow'
                then
                    inputs.interbank_outflow_cny >= signals.ratio_threshold * inputs.last_month_aum_cny
                    and inputs.interbank_outflow_cny >= signals.min_value
            when 'sig_large_maturity' then inputs.maturing_30d_cny >= signals.min_value
            when 'sig_activity_drop'
                then
                    inputs.prev_mean_txn_count >= signals.min_value
                    and inputs.customer_txn_count < signals.ratio_threshold * inputs.prev_mean_txn_count
            when 'sig_complaints' then inputs.complaints_90d >= signals.min_value or inputs.high_complaints_90d > 0
            when 'sig_tier_pressure'
                then
                    inputs.tier_change = 'down' or inputs.months_below_tier >= signals.min_value
            when 'sig_dormant_shift' then
                inputs.activity_segment = 'dormant'
                and inputs.last_month_activity_segment in ('active', 'potential')
        end, false) as is_fired
    from inputs
    cross join signals
),

reasons as (
    select
        customer_id,
        as_of_date,
        {{ joined_by_weight('signal', 'weight') }} as reason_codes
    from evaluated
    where is_fired
    group by customer_id, as_of_date
),

scored as (
    select
        customer_id,
        as_of_date,
        sum(case when is_fired then weight else 0 end) as fired_weight,
        max(case when signal = 'sig_aum_drop' and is_fired then 1 else 0 end) = 1 as sig_aum_drop,
        max(case when signal = 'sig_interbank_outflow' and is_fired then 1 else 0 end) = 1 as sig_interbank_outflow,
        max(case when signal = 'sig_large_maturity' and is_fired then 1 else 0 end) = 1 as sig_large_maturity,
        max(case when signal = 'sig_activity_drop' and is_fired then 1 else 0 end) = 1 as sig_activity_drop,
        max(case when signal = 'sig_complaints' and is_fired then 1 else 0 end) = 1 as sig_complaints,
        max(case when signal = 'sig_tier_pressure' and is_fired then 1 else 0 end) = 1 as sig_tier_pressure,
        max(case when signal = 'sig_dormant_shift' and is_fired then 1 else 0 end) = 1 as sig_dormant_shift
    from evaluated
    group by customer_id, as_of_date
),

banded as (
    select
        scored.*,
        policy.watchlist_min_tier_rank,
        least(policy.score_cap, scored.fired_weight) as churn_score
    from scored
    cross join policy
),

with_band as (
    select
        banded.*,
        bands.risk_band,
        row_number() over (
            partition by banded.customer_id, banded.as_of_date order by bands.min_score desc
        ) as band_preference
    from banded
    inner join bands on banded.churn_score >= bands.min_score
),

final as (
    select
        with_band.customer_id,
        with_band.as_of_date,
        inputs.tier,
        cast(with_band.churn_score as integer) as churn_score,
        with_band.risk_band,
        with_band.sig_aum_drop,
        with_band.sig_interbank_outflow,
        with_band.sig_large_maturity,
        with_band.sig_activity_drop,
        with_band.sig_complaints,
        with_band.sig_tier_pressure,
        with_band.sig_dormant_shift,
        reasons.reason_codes,
        inputs.rm_id,
        inputs.tier_rank,
        inputs.last_month_aum_cny,
        inputs.last_month_activity_segment,
        inputs.prev_mean_aum_cny,
        cast(inputs.prev_mean_txn_count as double) as prev_mean_txn_count,
        cast(inputs.high_complaints_90d as integer) as high_complaints_90d,
        with_band.risk_band = 'high' and inputs.tier_rank >= with_band.watchlist_min_tier_rank as is_watchlist
    from with_band
    inner join inputs on with_band.customer_id = inputs.customer_id and with_band.as_of_date = inputs.as_of_date
    left join reasons on with_band.customer_id = reasons.customer_id and with_band.as_of_date = reasons.as_of_date
    where with_band.band_preference = 1
)

select * from final
