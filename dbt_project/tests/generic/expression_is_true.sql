{#- Fails for every row where the boolean expression is not true (dbt_utils cannot be installed here). -#}
{% test expression_is_true(model, expression, where_clause=none) %}
select *
from {{ model }}
where
    not coalesce({{ expression }}, false)
    {% if where_clause %}and {{ where_clause }}{% endif %}
{% endtest %}
