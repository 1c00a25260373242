{#- Schemas are the layer names themselves (raw, staging, intermediate, marts, rules), not
    dbt's default "<target schema>_<custom>", so BI and auditors see stable names. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
