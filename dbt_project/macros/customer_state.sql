{#- A customer's state for snap_customer_tier's versions, as one comparable text: tier,
    threshold version and the four segments. A missing part counts as empty text (DuckDB's
    concat does so; Spark's would return null), so both engines compare the same keys. -#}
{% macro customer_state_key(alias=none) -%}
    {%- set prefix = alias ~ '.' if alias else '' -%}
    {%- set parts = [] -%}
    {%- for column in ['tier', 'threshold_version', 'activity_segment', 'risk_segment', 'life_stage', 'depth_segment'] -%}
        {%- do parts.append("coalesce(" ~ prefix ~ column ~ ", '')") -%}
    {%- endfor -%}
    concat({{ parts | join(", '|', ") }})
{%- endmacro %}
