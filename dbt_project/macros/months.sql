{#- The month window of a run. `as_of_month` (YYYY-MM) is the last month built; `from_month`
    the first month a stateful incremental model recomputes. A var (`--vars`, or a unit test's
    override; "" means unset) wins; otherwise the environment variable TIERWISE_AS_OF_MONTH /
    TIERWISE_FROM_MONTH, read only while executing: dbt does not record an env var read at
    execution in its partial-parse state, so a new month reuses the parsed project, where a
    new `--vars` value makes dbt parse the whole project again (~5 s of CPU per run). Both are
    validated here again, so a malformed value fails compilation instead of reaching SQL. -#}

{% macro validated_month(name) -%}
    {%- set value = var(name, none) -%}
    {%- if value is none and execute -%}
        {%- set value = env_var('TIERWISE_' ~ (name | upper), '') -%}
    {%- endif -%}
    {%- if value is none or value == '' -%}
        {{ return(none) }}
    {%- endif -%}
    {%- if not modules.re.match('^[0-9]{4}-(0[1-9]|1[0-2])$', value | string) -%}
        {{ exceptions.raise_compiler_error("var " ~ name ~ " must be YYYY-MM, got '" ~ value ~ "'") }}
    {%- endif -%}
    {{ return(value | string) }}
{%- endmacro %}

{#- Last calendar day of a YYYY-MM string, as an ISO date string (computed in Jinja). -#}
{% macro month_end_literal(month) -%}
    {%- set y = month[0:4] | int -%}
    {%- set m = month[5:7] | int -%}
    {%- set next_first = modules.datetime.date(y + (1 if m == 12 else 0), 1 if m == 12 else m + 1, 1) -%}
    {{ return((next_first - modules.datetime.timedelta(days=1)).isoformat()) }}
{%- endmacro %}

{#- SQL predicate: the column's month is within the run (<= as_of_month when it is set). -#}
{% macro within_run(column) -%}
    {%- set to_month = validated_month('as_of_month') -%}
    {%- if to_month is none -%}
        1 = 1
    {%- else -%}
        {{ column }} <= cast('{{ month_end_literal(to_month) }}' as date)
    {%- endif -%}
{%- endmacro %}

{#- SQL predicate: the column's month is one the run rebuilds, from_month (default as_of_month)
    through as_of_month; every month up to as_of_month when neither is set past the first. -#}
{% macro run_months(column) -%}
    {%- set first = validated_month('from_month') or validated_month('as_of_month') -%}
    {%- if first is none -%}
        {{ within_run(column) }}
    {%- else -%}
        {{ column }} >= cast('{{ month_end_literal(first) }}' as date) and {{ within_run(column) }}
    {%- endif -%}
{%- endmacro %}

{#- SQL predicate for month-incremental models: on an incremental run only the months from
    from_month (default as_of_month) through as_of_month; on a full build every month in the run. -#}
{% macro incremental_months(column) -%}
    {%- if is_incremental() -%}
        {{ run_months(column) }}
    {%- else -%}
        {{ within_run(column) }}
    {%- endif -%}
{%- endmacro %}

{#- SQL predicate for tests of data a run wrote: the run's months (run_months) unless the run is
    a full refresh, which rewrote every month up to as_of_month. -#}
{% macro tested_months(column) -%}
    {%- if flags.FULL_REFRESH -%}
        {{ within_run(column) }}
    {%- else -%}
        {{ run_months(column) }}
    {%- endif -%}
{%- endmacro %}

{#- SQL predicate on a timestamp column, equal to incremental_months(month of the column) but
    written as a range on the column itself, so the engine can skip row groups of the raw table
    (a raw extract is loaded month by month, so its zone maps follow the month). -#}
{% macro incremental_timestamps(column) -%}
    {%- set first = validated_month('from_month') or validated_month('as_of_month') -%}
    {%- set last = validated_month('as_of_month') -%}
    {%- set conditions = [] -%}
    {%- if is_incremental() and first is not none -%}
        {%- do conditions.append(column ~ " >= cast('" ~ first ~ "-01' as timestamp)") -%}
    {%- endif -%}
    {%- if last is not none -%}
        {%- set after = modules.datetime.date.fromisoformat(month_end_literal(last)) + modules.datetime.timedelta(days=1) -%}
        {%- do conditions.append(column ~ " < cast('" ~ after.isoformat() ~ "' as timestamp)") -%}
    {%- endif -%}
    {{ conditions | join(' and ') if conditions else '1 = 1' }}
{%- endmacro %}
