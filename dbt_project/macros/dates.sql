{#- Portable date helpers. dbt's cross-database macros underneath; Spark's dateadd returns a
    TIMESTAMP for a DATE, so every result is cast back to date here, in one place. -#}

{% macro add_months(date_expr, months) -%}
    cast({{ dbt.dateadd('month', months, date_expr) }} as date)
{%- endmacro %}

{% macro add_days(date_expr, days) -%}
    cast({{ dbt.dateadd('day', days, date_expr) }} as date)
{%- endmacro %}

{% macro month_end(date_expr) -%}
    cast({{ dbt.last_day(date_expr, 'month') }} as date)
{%- endmacro %}

{% macro prev_month_end(date_expr) -%}
    {{ month_end(add_months(date_expr, -1)) }}
{%- endmacro %}

{% macro month_start(date_expr) -%}
    {{ add_days(prev_month_end(date_expr), 1) }}
{%- endmacro %}

{% macro days_between(start_expr, end_expr) -%}
    {{ dbt.datediff(start_expr, end_expr, 'day') }}
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
