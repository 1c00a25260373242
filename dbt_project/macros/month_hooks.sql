{#- The hooks of month-incremental models (dbt_project.yml, &monthly_incremental): a run
    rewrites exactly its months. DuckDB deletes rows; Spark's Parquet tables (no DELETE) are
    partitioned by as_of_date, so there a month is a partition to drop. -#}

{#- Pre-hook: on an incremental run, first remove every row of the run's months (from_month,
    default as_of_month, to as_of_month), so a month rebuilt after a re-delivery keeps no row
    its new inputs no longer produce (delete+insert alone replaces only the keys the new rows
    carry; an overwritten partition only the months the new rows carry). -#}
{% macro clear_run_months() -%}
    {%- set last = validated_month('as_of_month') -%}
    {%- set first = validated_month('from_month') or last -%}
    {%- if last is not none and is_incremental() and config.get('materialized') == 'incremental' -%}
        {{ return(adapter.dispatch('clear_run_months')(first, last)) }}
    {%- else -%}
        select 1 as nothing_to_clear
    {%- endif -%}
{%- endmacro %}

{% macro default__clear_run_months(first, last) -%}
        delete from {{ this }}
        where
            as_of_date >= cast('{{ month_end_literal(first) }}' as date)
            and as_of_date <= cast('{{ month_end_literal(last) }}' as date)
{%- endmacro %}

{% macro spark__clear_run_months(first, last) -%}
    {%- set month_ends = [] -%}
    {%- set start = (first[0:4] | int) * 12 + (first[5:7] | int) - 1 -%}
    {%- set stop = (last[0:4] | int) * 12 + (last[5:7] | int) - 1 -%}
    {%- for index in range(start, stop + 1) -%}
        {%- do month_ends.append(month_end_literal('%04d-%02d' % (index // 12, index % 12 + 1))) -%}
    {%- endfor -%}
    {{ return(spark_drop_month_partitions(month_ends)) }}
{%- endmacro %}

{#- Post-hook: drop rows after the run's as_of_month, so a table never keeps a month computed
    from inputs that have since changed. -#}
{% macro trim_after_run_month() -%}
    {%- set to_month = validated_month('as_of_month') -%}
    {%- if to_month is not none and config.get('materialized') == 'incremental' -%}
        {{ return(adapter.dispatch('trim_after_run_month')(month_end_literal(to_month))) }}
    {%- else -%}
        select 1 as nothing_to_trim
    {%- endif -%}
{%- endmacro %}

{% macro default__trim_after_run_month(last_month_end) -%}
        delete from {{ this }} where as_of_date > cast('{{ last_month_end }}' as date)
{%- endmacro %}

{% macro spark__trim_after_run_month(last_month_end) -%}
    {%- set later = [] -%}
    {%- if execute -%}
        {%- for row in run_query('show partitions ' ~ this) -%}
            {%- set month_end = row[0].split('=')[1] -%}
            {%- if month_end > last_month_end -%}{%- do later.append(month_end) -%}{%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(spark_drop_month_partitions(later)) }}
{%- endmacro %}

{#- One statement dropping the as_of_date partitions given (ISO dates), or a no-op. -#}
{% macro spark_drop_month_partitions(month_ends) -%}
    {%- if month_ends -%}
        alter table {{ this }} drop if exists
        {% for month_end in month_ends -%}
            partition (as_of_date = '{{ month_end }}'){{ ", " if not loop.last }}
        {%- endfor %}
    {%- else -%}
        select 1 as no_partition_to_drop
    {%- endif -%}
{%- endmacro %}
