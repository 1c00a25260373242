{#- What differs between warehouses, in one place (issue #9).

    Month-grained models are incremental by month on DuckDB (delete+insert of the run's months).
    Spark without Delta / Iceberg has no delete and cannot overwrite a table it reads (the tier
    state reads its own previous month), so there they are tables rebuilt up to as_of_month:
    correct, because a backfill gives exactly what month-by-month runs give, but every run costs
    the whole history. With Delta on the cluster, `incremental` + `merge` would be the upgrade. -#}
{% macro month_materialization(target) -%}
    {{ return('table' if target.type == 'spark' else 'incremental') }}
{%- endmacro %}

{#- Names joined with ',' in order of weight (highest first), then name. dbt's spark__listagg
    drops the order_by, so Spark sorts an array of (-weight, name) pairs instead. -#}
{% macro joined_by_weight(name_column, weight_column) -%}
    {{ return(adapter.dispatch('joined_by_weight')(name_column, weight_column)) }}
{%- endmacro %}

{% macro default__joined_by_weight(name_column, weight_column) -%}
    {{ dbt.listagg(name_column, "','", 'order by ' ~ weight_column ~ ' desc, ' ~ name_column) }}
{%- endmacro %}

{% macro spark__joined_by_weight(name_column, weight_column) -%}
    array_join(
        transform(
            array_sort(collect_list(named_struct('w', -{{ weight_column }}, 'n', {{ name_column }}))),
            x -> x.n
        ),
        ','
    )
{%- endmacro %}
