{#- SQL that differs between warehouses and is not date arithmetic (that is macros/dates.sql). -#}

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
