-- Closing the loop (定期评估): how well each month's outputs predicted what followed, over the
-- next months that have been built (up to tier_policy backtest_horizon_months, default 3;
-- horizon_months says how many; months with none are left out, so the latest month appears
-- once later months exist).
--   churn rows (segment = risk band): outcome = the customer left the book, or had at most
--   backtest_loss_ratio (default 50%) of this month's (positive) AUM, in some month of the
--   horizon. The month's base rate and the high band's precision, recall and lift over the
--   base rate repeat on each row.
--   cross_sell rows (segment = category, by priority_rank): recommended (suitable) categories;
--   outcome = the customer held the category in some month of the horizon.
with measures as (
    select * from {{ ref('fct_customer_month') }}
),

signals as (
    select * from {{ ref('fct_churn_signals') }}
),

cross_sell as (
    select * from {{ ref('fct_cross_sell') }}
),

held as (
    select * from {{ ref('int_customer_month__categories') }}
),

horizon_policy as (
    {{ policy_select('backtest_horizon_months', 'horizon') }}
),

loss_policy as (
    {{ policy_select('backtest_loss_ratio', 'loss_ratio', 'decimal(9, 4)') }}
),

built as (
    select distinct as_of_date from measures
),

horizons as (
    select
        origin.as_of_date,
        later.as_of_date as future_date
    from built as origin
    cross join horizon_policy
    inner join built as later
        on
            origin.as_of_date < later.as_of_date
            and later.as_of_date <= {{ month_end(add_months('origin.as_of_date', 'horizon_policy.horizon')) }}
),

-- Incremental by month (dbt_project.yml): the origin months a run rewrites are those with a
-- month of the run in their horizon (up to `horizon` months before the run, which gain an
-- outcome month); dbt's delete+insert replaces exactly those months.
run_origins as (
    select distinct as_of_date from horizons
    where {{ incremental_months('future_date') }}
),

run_horizons as (
    select horizons.*
    from horizons
    inner join run_origins on horizons.as_of_date = run_origins.as_of_date
),

horizon_length as (
    select
        as_of_date,
        count(*) as horizon_months
    from run_horizons
    group by as_of_date
),

churn_outcomes as (
    select
        signals.customer_id,
        signals.as_of_date,
        signals.risk_band,
        max(case
            when later_month.customer_id is null then 1
            when now_month.aum_cny > 0 and later_month.aum_cny <= loss_policy.loss_ratio * now_month.aum_cny then 1
            else 0
        end) as had_outcome
    from signals
    inner join measures as now_month
        on signals.customer_id = now_month.customer_id and signals.as_of_date = now_month.as_of_date
    cross join loss_policy
    inner join run_horizons as horizons on signals.as_of_date = horizons.as_of_date
    left join measures as later_month
        on signals.customer_id = later_month.customer_id and horizons.future_date = later_month.as_of_date
    group by signals.customer_id, signals.as_of_date, signals.risk_band
),

month_rates as (
    select
        as_of_date,
        avg(cast(had_outcome as double)) as base_rate,
        sum(case when risk_band = 'high' then had_outcome else 0 end) as high_hits,
        sum(case when risk_band = 'high' then 1 else 0 end) as high_customers,
        sum(had_outcome) as all_hits
    from churn_outcomes
    group by as_of_date
),

churn_rows as (
    select
        churn_outcomes.as_of_date,
        'churn' as signal_type,
        churn_outcomes.risk_band as segment,
        cast(null as integer) as priority_rank,
        count(*) as customers,
        sum(churn_outcomes.had_outcome) as hits
    from churn_outcomes
    group by churn_outcomes.as_of_date, churn_outcomes.risk_band
),

adoptions as (
    select
        cross_sell.customer_id,
        cross_sell.as_of_date,
        cross_sell.product_category,
        cross_sell.priority_rank,
        max(case when held.category is not null then 1 else 0 end) as had_outcome
    from cross_sell
    inner join run_horizons as horizons on cross_sell.as_of_date = horizons.as_of_date
    left join held
        on
            cross_sell.customer_id = held.customer_id
            and horizons.future_date = held.as_of_date
            and cross_sell.product_category = held.category
    where cross_sell.suitable
    group by cross_sell.customer_id, cross_sell.as_of_date, cross_sell.product_category, cross_sell.priority_rank
),

cross_sell_rows as (
    select
        as_of_date,
        'cross_sell' as signal_type,
        product_category as segment,
        priority_rank,
        count(*) as customers,
        sum(had_outcome) as hits
    from adoptions
    group by as_of_date, product_category, priority_rank
),

all_rows as (
    select * from churn_rows
    union all
    select * from cross_sell_rows
),

final as (
    select
        all_rows.as_of_date,
        all_rows.signal_type,
        all_rows.segment,
        all_rows.priority_rank,
        cast(horizon_length.horizon_months as integer) as horizon_months,
        cast(all_rows.customers as integer) as customers,
        cast(all_rows.hits as integer) as hits,
        cast(all_rows.hits as double) / all_rows.customers as hit_rate,
        case when all_rows.signal_type = 'churn' then month_rates.base_rate end as base_rate,
        case
            when all_rows.signal_type = 'churn'
                then cast(month_rates.high_hits as double) / nullif(month_rates.high_customers, 0)
        end as precision_high,
        case
            when all_rows.signal_type = 'churn'
                then cast(month_rates.high_hits as double) / nullif(month_rates.all_hits, 0)
        end as recall_high,
        case
            when all_rows.signal_type = 'churn'
                then
                    (cast(month_rates.high_hits as double) / nullif(month_rates.high_customers, 0))
                    / nullif(month_rates.base_rate, 0)
        end as lift_high
    from all_rows
    inner join horizon_length on all_rows.as_of_date = horizon_length.as_of_date
    left join month_rates on all_rows.as_of_date = month_rates.as_of_date
)

select * from final
