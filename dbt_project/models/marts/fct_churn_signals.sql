-- Churn signals (流失预警) per customer on book and month. Thresholds, weights and lookbacks come
-- from seed churn_signals, pivoted to one row (params); each signal is a boolean column of the
-- row, so the score, the reason order (weight desc, then name) and the weights stay data.
-- "Previous months on book" are the customer's rows in the lookback calendar months before
-- this one (a customer back after a long absence is not compared with a year-old month); with
-- none, the signal cannot fire. A signal missing from the seed never fires.
--
-- Memory: DuckDB materializes a CTE read more than once, so the large tables are read where
-- they are used (each read is a narrow column scan), and no CTE multiplies the rows
-- (1M customers x 12 months did not fit 8 GB when every row was one row per signal).
{#- Each signal's condition on the row `inputs`, against the threshold the row evaluated from
    the seed (CTE evaluated: `<signal>_fires_below...` / `_fires_from...`, published so a reader
    sees the number a value was compared with). It fires only when the seed has the signal; an
    unknown value does not fire. -#}
{%- set signal_conditions = {
    'sig_aum_drop': 'inputs.aum_cny < inputs.sig_aum_drop_fires_below_cny',
    'sig_interbank_outflow': 'inputs.interbank_outflow_cny >= inputs.sig_interbank_outflow_fires_from_cny',
    'sig_large_maturity': 'inputs.maturing_30d_cny >= inputs.sig_large_maturity_fires_from_cny',
    'sig_activity_drop': 'inputs.customer_txn_count < inputs.sig_activity_drop_fires_below',
    'sig_complaints':
        'inputs.complaints_90d >= inputs.sig_complaints_fires_from or inputs.high_complaints_90d > 0',
    'sig_tier_pressure':
        "inputs.tier_change = 'down' or inputs.months_below_tier >= inputs.sig_tier_pressure_fires_from_months",
    'sig_dormant_shift':
        "inputs.activity_segment = 'dormant'"
        ~ " and inputs.last_month_activity_segment in ('active', 'potential')",
} %}
{#- The evaluated thresholds, in the order the mart publishes them. -#}
{%- set threshold_columns = [
    'sig_aum_drop_fires_below_cny', 'sig_interbank_outflow_fires_from_cny', 'sig_large_maturity_fires_from_cny',
    'sig_activity_drop_fires_below', 'sig_complaints_fires_from', 'sig_tier_pressure_fires_from_months',
] %}
{%- set signal_names = signal_conditions.keys() | list %}
with signals as (
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

signal_order as (
    select
        signal,
        weight,
        ratio_threshold,
        min_value,
        lookback_months,
        row_number() over (order by weight desc, signal asc) as reason_position
    from signals
),

params as (
    select
        {%- for name in signal_names %}
            max(case when signal = '{{ name }}' then weight end) as {{ name }}__weight,
            max(case when signal = '{{ name }}' then ratio_threshold end) as {{ name }}__ratio,
            max(case when signal = '{{ name }}' then min_value end) as {{ name }}__min,
            max(case when signal = '{{ name }}' then reason_position end) as {{ name }}__position,
        {%- endfor %}
        max(case when signal = 'sig_aum_drop' then lookback_months end) as aum_lookback,
        max(case when signal = 'sig_activity_drop' then lookback_months end) as activity_lookback
    from signal_order
),

band_ranges as (
    select
        risk_band,
        min_score,
        lead(min_score) over (order by min_score) as next_min_score
    from bands
),

history as (
    select
        current_month.customer_id,
        current_month.as_of_date,
        {{ mean_to_cent(
            "case when previous.as_of_date >= "
            ~ month_end(add_months('current_month.as_of_date', '-1 * params.aum_lookback'))
            ~ " then previous.aum_cny end"
        ) }} as prev_mean_aum_cny,
        avg(case
            when
                previous.as_of_date
                >= {{ month_end(add_months('current_month.as_of_date', '-1 * params.activity_lookback')) }}
                then cast(previous.customer_txn_count as double)
        end) as prev_mean_txn_count
    from {{ ref('fct_customer_month') }} as current_month
    cross join params
    inner join {{ ref('fct_customer_month') }} as previous
        on
            current_month.customer_id = previous.customer_id
            and current_month.as_of_date > previous.as_of_date
            and previous.as_of_date >= {{ month_end(add_months(
                'current_month.as_of_date', '-1 * greatest(params.aum_lookback, params.activity_lookback)'
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
    from {{ ref('fct_customer_month') }} as measures
    inner join {{ ref('fct_customer_tier') }} as tiers
        on measures.customer_id = tiers.customer_id and measures.as_of_date = tiers.as_of_date
    left join history on measures.customer_id = history.customer_id and measures.as_of_date = history.as_of_date
    left join {{ ref('fct_customer_month') }} as last_month
        on
            measures.customer_id = last_month.customer_id
            and last_month.as_of_date = {{ prev_month_end('measures.as_of_date') }}
    left join {{ ref('fct_customer_tier') }} as last_tier
        on
            measures.customer_id = last_tier.customer_id
            and last_tier.as_of_date = {{ prev_month_end('measures.as_of_date') }}
    left join {{ ref('int_customer_month__complaints') }} as complaints
        on measures.customer_id = complaints.customer_id and measures.as_of_date = complaints.as_of_date
    left join {{ ref('int_customer_month__rm') }} as rm
        on measures.customer_id = rm.customer_id and measures.as_of_date = rm.as_of_date
    where {{ incremental_months('measures.as_of_date') }}
),

evaluated as (
    select
        inputs.*,
        params.sig_large_maturity__min as sig_large_maturity_fires_from_cny,
        params.sig_complaints__min as sig_complaints_fires_from,
        params.sig_tier_pressure__min as sig_tier_pressure_fires_from_months,
        -- below ratio x the previous mean, once that mean reaches the minimum (exact decimals)
        case
            when inputs.prev_mean_aum_cny >= params.sig_aum_drop__min
                then cast(params.sig_aum_drop__ratio * inputs.prev_mean_aum_cny as decimal(24, 6))
        end as sig_aum_drop_fires_below_cny,
        -- at least ratio x last month's AUM and at least the minimum; no last month, no threshold
        case
            when
                inputs.last_month_aum_cny is not null
                and params.sig_interbank_outflow__ratio is not null
                and params.sig_interbank_outflow__min is not null
                then cast(greatest(
                    params.sig_interbank_outflow__ratio * inputs.last_month_aum_cny, params.sig_interbank_outflow__min
                ) as decimal(24, 6))
        end as sig_interbank_outflow_fires_from_cny,
        case
            when inputs.prev_mean_txn_count >= params.sig_activity_drop__min
                then cast(params.sig_activity_drop__ratio * inputs.prev_mean_txn_count as double)
        end as sig_activity_drop_fires_below
    from inputs
    cross join params
),

fired as (
    select
        {%- for name, condition in signal_conditions.items() %}
            coalesce(params.{{ name }}__weight is not null and ({{ condition }}), false) as {{ name }},
        {%- endfor %}
        inputs.*
    from evaluated as inputs
    cross join params
),

scored as (
    select
        fired.*,
        policy.watchlist_min_tier_rank,
        least(
            policy.score_cap,
            {%- for name in signal_names %}
                case when fired.{{ name }} then params.{{ name }}__weight else 0 end{{ ' +' if not loop.last }}
            {%- endfor %}
        ) as churn_score,
        {#- concat_ws skips nulls (DuckDB, Spark): place k holds the signal of reason_position k if it fired #}
        nullif(concat_ws(
            ',',
            {%- for position in range(1, signal_names | length + 1) %}
                case
                    {%- for name in signal_names %}
                        when params.{{ name }}__position = {{ position }} and fired.{{ name }} then '{{ name }}'
                    {%- endfor %}
                end{{ ',' if not loop.last }}
            {%- endfor %}
        ), '') as reason_codes
    from fired
    cross join params
    cross join policy
),

final as (
    select
        scored.customer_id,
        scored.as_of_date,
        scored.tier,
        cast(scored.churn_score as integer) as churn_score,
        band_ranges.risk_band,
        {%- for name in signal_names %}
            scored.{{ name }},
        {%- endfor %}
        scored.reason_codes,
        scored.rm_id,
        scored.tier_rank,
        scored.last_month_aum_cny,
        scored.last_month_activity_segment,
        scored.prev_mean_aum_cny,
        cast(scored.prev_mean_txn_count as double) as prev_mean_txn_count,
        cast(scored.high_complaints_90d as integer) as high_complaints_90d,
        {%- for column in threshold_columns %}
            scored.{{ column }},
        {%- endfor %}
        band_ranges.risk_band = 'high' and scored.tier_rank >= scored.watchlist_min_tier_rank as is_watchlist,
        scored.aum_cny
    from scored
    inner join band_ranges
        on
            scored.churn_score >= band_ranges.min_score
            and (band_ranges.next_min_score is null or scored.churn_score < band_ranges.next_min_score)
)

select * from final
