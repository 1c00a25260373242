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

{#- One month of the downgrade-grace state machine (DOMAIN.md, 防止等级频繁跳动):
    r = raw rank this month, t = held rank last month, b = months below last month.
    new -> r, 0; r >= t -> r, 0; r < t -> b + 1 and, at the grace, the best raw rank of the
    months below (best_below carries it) with b reset to 0. -#}
{% macro tier_state_step(previous_cte, month) %}
    select
        raw.customer_id,
        raw.as_of_date,
        raw.raw_tier_rank,
        prev.tier_rank as prior_tier_rank,
        case
            when prev.tier_rank is null then raw.raw_tier_rank
            when raw.raw_tier_rank >= prev.tier_rank then raw.raw_tier_rank
            when prev.months_below_tier + 1 >= policy.grace_months
                then greatest(coalesce(prev.best_rank_below, raw.raw_tier_rank), raw.raw_tier_rank)
            else prev.tier_rank
        end as tier_rank,
        case
            when prev.tier_rank is null then 0
            when raw.raw_tier_rank >= prev.tier_rank then 0
            when prev.months_below_tier + 1 >= policy.grace_months then 0
            else prev.months_below_tier + 1
        end as months_below_tier,
        case
            when prev.tier_rank is null then null
            when raw.raw_tier_rank >= prev.tier_rank then null
            when prev.months_below_tier + 1 >= policy.grace_months then null
            else greatest(coalesce(prev.best_rank_below, raw.raw_tier_rank), raw.raw_tier_rank)
        end as best_rank_below,
        case
            when prev.tier_rank is null then 'new'
            when raw.raw_tier_rank > prev.tier_rank then 'up'
            when raw.raw_tier_rank >= prev.tier_rank then 'same'
            when prev.months_below_tier + 1 >= policy.grace_months
                and greatest(coalesce(prev.best_rank_below, raw.raw_tier_rank), raw.raw_tier_rank) < prev.tier_rank
                then 'down'
            else 'same'
        end as tier_change,
        case
            when prev.tier_rank is null then 'new'
            when raw.raw_tier_rank > prev.tier_rank then 'upgrade'
            when raw.raw_tier_rank = prev.tier_rank then 'at_tier'
            when prev.months_below_tier + 1 >= policy.grace_months then 'downgrade_after_grace'
            else 'below_tier_on_watch'
        end as grace_branch
    from raw_tiers as raw
    cross join policy
    left join {{ previous_cte }} as prev
        on raw.customer_id = prev.customer_id
        and prev.as_of_date = {{ prev_month_end('raw.as_of_date') }}
    where raw.as_of_date = cast('{{ month }}' as date)
{% endmacro %}

{#- Post-hook of month-incremental models: drop rows after the run's as_of_month, so a table
    never keeps a month computed from inputs that have since changed. -#}
{% macro trim_after_run_month() -%}
    {%- set to_month = validated_month('as_of_month') -%}
    {#- a table (Spark without Delta) is rebuilt up to as_of_month: nothing to trim -#}
    {%- if to_month is not none and config.get('materialized') == 'incremental' -%}
        delete from {{ this }} where as_of_date > cast('{{ month_end_literal(to_month) }}' as date)
    {%- else -%}
        select 1 as nothing_to_trim
    {%- endif -%}
{%- endmacro %}

{#- Pre-hook of month-incremental models: on an incremental run, first remove every row of the
    run's months (from_month, default as_of_month, to as_of_month), so a month rebuilt after a
    re-delivery keeps no row its new inputs no longer produce (delete+insert alone replaces only
    the keys the new rows carry). -#}
{% macro clear_run_months() -%}
    {%- set last = validated_month('as_of_month') -%}
    {%- set first = validated_month('from_month') or last -%}
    {%- if last is not none and is_incremental() and config.get('materialized') == 'incremental' -%}
        delete from {{ this }}
        where
            as_of_date >= cast('{{ month_end_literal(first) }}' as date)
            and as_of_date <= cast('{{ month_end_literal(last) }}' as date)
    {%- else -%}
        select 1 as nothing_to_clear
    {%- endif -%}
{%- endmacro %}
