{#- One scalar policy from seed tier_policy as a one-row select: `policy as (policy_select(...))`. -#}
{% macro policy_select(policy_key, alias, data_type='integer') -%}
    select cast(policy_value as {{ data_type }}) as {{ alias }}
    from {{ ref('tier_policy') }}
    where policy_key = '{{ policy_key }}'
{%- endmacro %}
