{#- Month list for the stateful tier model: the months this run recomputes, in order.
    Full build: every loaded month up to as_of_month. Incremental: from_month (default
    as_of_month) up to as_of_month, and the month before from_month must already be built. -#}
{% macro tier_state_months() %}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set to_month = validated_month('as_of_month') -%}
    {%- set from_month = validated_month('from_month') -%}
    {%- set months_rel = load_relation(ref('int_months')) -%}
    {%- if months_rel is none -%}
        {#- nothing built yet (compiling for a linter): unroll one placeholder month, which
            selects no rows, so the compiled SQL keeps its full shape -#}
        {{ return(['1900-01-31']) }}
    {%- endif -%}
    {%- set upper = "" if to_month is none else "where as_of_date <= cast('" ~ month_end_literal(to_month) ~ "' as date)" -%}
    {%- set all_months = run_query("select cast(as_of_date as " ~ dbt.type_string() ~ ") from " ~ months_rel ~ " " ~ upper ~ " order by 1").columns[0].values() -%}
    {%- if all_months | length == 0 -%}
        {{ return([]) }}
    {%- endif -%}
    {%- if not is_incremental() -%}
        {{ return(all_months | list) }}
    {%- endif -%}
    {%- set start = month_end_literal(from_month or to_month or all_months[-1][0:7]) -%}
    {%- set selected = [] -%}
    {%- for m in all_months -%}
        {%- if m >= start -%}{%- do selected.append(m) -%}{%- endif -%}
    {%- endfor -%}
    {%- if selected | length > 0 and selected[0] != all_months[0] -%}
        {%- set previous = all_months[all_months.index(selected[0]) - 1] -%}
        {%- set built = run_query("select count(*) from " ~ this ~ " where as_of_date = cast('" ~ previous ~ "' as date)").columns[0].values()[0] -%}
        {#- the month before is loaded (int_months) but has no tier state: refuse. (The month-grained
            models are incremental, so "are there customers that month" cannot be asked of them.) -#}
        {%- if built == 0 -%}
            {{ exceptions.raise_compiler_error("tier state for " ~ previous ~ " has not been built: the downgrade grace needs the month before " ~ selected[0] ~ ". Build from " ~ previous[0:7] ~ " first (a backfill with from_month).") }}
        {%- endif -%}
    {%- endif -%}
    {{ return(selected) }}
{% endmacro %}

{#- The downgrade-grace state machine (docs/business-rules.md, 防止等级频繁跳动), written once:
    the select list of one step, given SQL expressions for r = this month's raw rank
    (`raw_rank`), t = last month's held rank (`prev_rank`, null when not on book last month),
    b = last month's months below (`prev_below`), the best raw rank since falling below
    (`prev_best`) and the grace (`grace`).
    new -> r, 0; r >= t -> r, 0; r < t -> b + 1 and, at the grace, the best raw rank of the
    months below (best_below carries it) with b reset to 0. -#}
{% macro tier_state_columns(raw_rank, prev_rank, prev_below, prev_best, grace) %}
        {{ raw_rank }} as raw_tier_rank,
        {{ prev_rank }} as prior_tier_rank,
        case
            when {{ prev_rank }} is null then {{ raw_rank }}
            when {{ raw_rank }} >= {{ prev_rank }} then {{ raw_rank }}
            when {{ prev_below }} + 1 >= {{ grace }}
                then greatest(coalesce({{ prev_best }}, {{ raw_rank }}), {{ raw_rank }})
            else {{ prev_rank }}
        end as tier_rank,
        case
            when {{ prev_rank }} is null then 0
            when {{ raw_rank }} >= {{ prev_rank }} then 0
            when {{ prev_below }} + 1 >= {{ grace }} then 0
            else {{ prev_below }} + 1
        end as months_below_tier,
        case
            when {{ prev_rank }} is null then null
            when {{ raw_rank }} >= {{ prev_rank }} then null
            when {{ prev_below }} + 1 >= {{ grace }} then null
            else greatest(coalesce({{ prev_best }}, {{ raw_rank }}), {{ raw_rank }})
        end as best_rank_below,
        case
            when {{ prev_rank }} is null then 'new'
            when {{ raw_rank }} > {{ prev_rank }} then 'up'
            when {{ raw_rank }} >= {{ prev_rank }} then 'same'
            when {{ prev_below }} + 1 >= {{ grace }}
                and greatest(coalesce({{ prev_best }}, {{ raw_rank }}), {{ raw_rank }}) < {{ prev_rank }}
                then 'down'
            else 'same'
        end as tier_change,
        case
            when {{ prev_rank }} is null then 'new'
            when {{ raw_rank }} > {{ prev_rank }} then 'upgrade'
            when {{ raw_rank }} = {{ prev_rank }} then 'at_tier'
            when {{ prev_below }} + 1 >= {{ grace }} then 'downgrade_after_grace'
            else 'below_tier_on_watch'
        end as grace_branch
{% endmacro %}

{#- The months of a run, stepped through in order from state_0 (the state stored for the month
    before the first, or none), as CTE `final` with the model's columns. Expects CTEs raw_tiers,
    policy and state_0. The engine decides how: -#}
{% macro tier_state_steps(months) %}
    {{ return(adapter.dispatch('tier_state_steps')(months)) }}
{% endmacro %}

{#- Default (Spark: no recursive CTE before Spark 4.1): one CTE per month, each reading the one
    before. The SQL grows with the months of one run. -#}
{% macro default__tier_state_steps(months) %}
{% for month in months %}
    state_{{ loop.index }} as (
        select
            raw.customer_id,
            raw.as_of_date,
            {{ tier_state_columns('raw.raw_tier_rank', 'prev.tier_rank', 'prev.months_below_tier', 'prev.best_rank_below', 'policy.grace_months') }}
        from raw_tiers as raw
        cross join policy
        left join state_{{ loop.index - 1 }} as prev
            on raw.customer_id = prev.customer_id
            and prev.as_of_date = {{ prev_month_end('raw.as_of_date') }}
        where raw.as_of_date = cast('{{ month }}' as date)
    ),
{% endfor %}
    final as (
    {% for month in months %}
        select * from state_{{ loop.index }}
        {% if not loop.last %}union all{% endif %}
    {% else %}
        {{ tier_state_no_rows() }}
    {% endfor %}
    )
{% endmacro %}

{#- DuckDB: one recursive CTE whatever the number of months (a 30-year backfill compiles to the
    same SQL as one month). The recursion carries every customer of the run through every run
    month (`grid`); a month without the customer on book carries no state, so the next month
    they are back is `new`, exactly as the per-month form's join on the previous month end. -#}
{% macro duckdb__tier_state_steps(months) %}
    final as (
    {% if months | length == 0 %}
        {{ tier_state_no_rows() }}
    {% else %}
        with recursive
        run_months as (
            select
                as_of_date,
                row_number() over (order by as_of_date) as step
            from (
                select distinct as_of_date from raw_tiers
                where as_of_date between cast('{{ months[0] }}' as date) and cast('{{ months[-1] }}' as date)
            ) as m
        ),

        run_customers as (
            select distinct customer_id from raw_tiers
            where as_of_date between cast('{{ months[0] }}' as date) and cast('{{ months[-1] }}' as date)
        ),

        grid as (
            select
                c.customer_id,
                m.step,
                m.as_of_date,
                r.raw_tier_rank
            from run_customers as c
            cross join run_months as m
            left join raw_tiers as r
                on c.customer_id = r.customer_id and m.as_of_date = r.as_of_date
        ),

        steps as (
            -- step 0: the state stored for the month before the first run month (none on a full build)
            select
                c.customer_id,
                0 as step,
                s.as_of_date,
                s.tier_rank as raw_tier_rank,
                cast(null as integer) as prior_tier_rank,
                s.tier_rank,
                s.months_below_tier,
                s.best_rank_below,
                cast(null as varchar) as tier_change,
                cast(null as varchar) as grace_branch
            from run_customers as c
            left join state_0 as s
                on c.customer_id = s.customer_id
                and s.as_of_date = {{ prev_month_end("cast('" ~ months[0] ~ "' as date)") }}
            union all
            select
                joined.customer_id,
                joined.step,
                joined.as_of_date,
                {{ tier_state_columns('joined.raw_tier_rank', 'joined.prev_rank', 'joined.prev_below', 'joined.prev_best', 'policy.grace_months') }}
            from (
                select
                    raw.customer_id,
                    raw.step,
                    raw.as_of_date,
                    raw.raw_tier_rank,
                    -- last month's state counts only when the customer was on book that month
                    case
                        when prev.raw_tier_rank is not null and prev.as_of_date = {{ prev_month_end('raw.as_of_date') }}
                            then prev.tier_rank
                    end as prev_rank,
                    prev.months_below_tier as prev_below,
                    prev.best_rank_below as prev_best
                from grid as raw
                inner join steps as prev
                    on raw.customer_id = prev.customer_id and raw.step = prev.step + 1
            ) as joined
            cross join policy
        )

        select
            customer_id,
            as_of_date,
            raw_tier_rank,
            prior_tier_rank,
            tier_rank,
            months_below_tier,
            best_rank_below,
            tier_change,
            grace_branch
        from steps
        where step > 0 and raw_tier_rank is not null
    {% endif %}
    )
{% endmacro %}

{% macro tier_state_no_rows() %}
        select
            cast(null as {{ dbt.type_string() }}) as customer_id,
            cast(null as date) as as_of_date,
            cast(null as integer) as raw_tier_rank,
            cast(null as integer) as prior_tier_rank,
            cast(null as integer) as tier_rank,
            cast(null as integer) as months_below_tier,
            cast(null as integer) as best_rank_below,
            cast(null as {{ dbt.type_string() }}) as tier_change,
            cast(null as {{ dbt.type_string() }}) as grace_branch
        where 1 = 0
{% endmacro %}
