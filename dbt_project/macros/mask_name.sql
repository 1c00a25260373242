{#- docs/business-rules.md masking: first character, then one '*' per remaining character (张** ). -#}
{% macro mask_name(column) -%}
    case
        when {{ column }} is null then null
        else concat(substring({{ column }}, 1, 1), repeat('*', length({{ column }}) - 1))
    end
{%- endmacro %}
