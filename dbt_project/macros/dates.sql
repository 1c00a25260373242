{#- Portable date helpers: the one place where date arithmetic differs by engine. DuckDB goes
    through dbt's cross-database macros, cast back to date. Spark has native date functions:
    dbt's spark__dateadd works through unix timestamps and returns a TIMESTAMP for a DATE, and
    its expressions grow large enough (nested in windows) to defeat Spark's code generator. -#}

{% macro add_months(date_expr, months) -%}
    {{ return(adapter.dispatch('add_months')(date_expr, months)) }}
{%- endmacro %}

{% macro default__add_months(date_expr, months) -%}
    cast({{ dbt.dateadd('month', months, date_expr) }} as date)
{%- endmacro %}

{% macro spark__add_months(date_expr, months) -%}
    add_months({{ date_expr }}, cast({{ months }} as int))
{%- endmacro %}

{% macro add_days(date_expr, days) -%}
    {{ return(adapter.dispatch('add_days')(date_expr, days)) }}
{%- endmacro %}

{% macro default__add_days(date_expr, days) -%}
    cast({{ dbt.dateadd('day', days, date_expr) }} as date)
{%- endmacro %}

{% macro spark__add_days(date_expr, days) -%}
    date_add({{ date_expr }}, cast({{ days }} as int))
{%- endmacro %}

{% macro month_end(date_expr) -%}
    {{ return(adapter.dispatch('month_end')(date_expr)) }}
{%- endmacro %}

{% macro default__month_end(date_expr) -%}
    cast({{ dbt.last_day(date_expr, 'month') }} as date)
{%- endmacro %}

{% macro spark__month_end(date_expr) -%}
    last_day({{ date_expr }})
{%- endmacro %}

{% macro prev_month_end(date_expr) -%}
    {{ month_end(add_months(date_expr, -1)) }}
{%- endmacro %}

{% macro month_start(date_expr) -%}
    {{ add_days(prev_month_end(date_expr), 1) }}
{%- endmacro %}

{% macro days_between(start_expr, end_expr) -%}
    {{ return(adapter.dispatch('days_between')(start_expr, end_expr)) }}
{%- endmacro %}

{% macro default__days_between(start_expr, end_expr) -%}
    {{ dbt.datediff(start_expr, end_expr, 'day') }}
{%- endmacro %}

{% macro spark__days_between(start_expr, end_expr) -%}
    datediff({{ end_expr }}, {{ start_expr }})
{%- endmacro %}

{#- Completed years between two dates (age on a date). -#}
{% macro age_years(birth_expr, on_expr) -%}
    (
        extract(year from {{ on_expr }}) - extract(year from {{ birth_expr }})
        - case
            when extract(month from {{ on_expr }}) * 100 + extract(day from {{ on_expr }})
                < extract(month from {{ birth_expr }}) * 100 + extract(day from {{ birth_expr }})
                then 1
            else 0
        end
    )
{%- endmacro %}
