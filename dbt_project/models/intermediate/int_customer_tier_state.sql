{#- The held tier is state carried month to month. This model is incremental by month: each
    run recomputes the months from `from_month` to `as_of_month` in order (tier_state_steps: one
    recursive CTE on DuckDB, whose SQL does not grow with the months; one CTE per month on
    Spark), starting from the state already stored for the month before, so a backfill of m1..mN in
    one run and runs of m1, m2, ... one at a time execute the same step and give the same rows
    (tests/test_tier_state_equivalence.py). Months after as_of_month are removed, so the
    table never holds a month computed from a state that has since changed. Materialization,
    hooks and the Spark fallback: dbt_project.yml (monthly_incremental). -#}
-- depends_on: {{ ref('int_months') }}
{%- set months = tier_state_months() %}

with raw_tiers as (
    select * from {{ ref('int_customer_month__raw_tier') }}
),

policy as (
    {{ policy_select('downgrade_grace_months', 'grace_months') }}
),

state_0 as (
    {% if is_incremental() %}
        select customer_id, as_of_date, tier_rank, months_below_tier, best_rank_below
        from {{ this }}
    {% else %}
        select
            cast(null as {{ dbt.type_string() }}) as customer_id,
            cast(null as date) as as_of_date,
            cast(null as integer) as tier_rank,
            cast(null as integer) as months_below_tier,
            cast(null as integer) as best_rank_below
        where 1 = 0
    {% endif %}
),

{{ tier_state_steps(months) }}

select * from final
