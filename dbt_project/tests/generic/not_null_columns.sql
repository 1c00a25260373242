{#- Fails for every row where any of `column_names` is null, and says which: one test for a
    model's required columns instead of one not_null test per column (each test is a node dbt
    runs and a check Dagster records on every refresh). -#}
{% test not_null_columns(model, column_names) %}
select
    {%- for column in column_names %}
    {{ column }} is null as {{ column }}_is_null{{ "," if not loop.last }}
    {%- endfor %}
from {{ model }}
where
    {%- for column in column_names %}
    {{ "or " if not loop.first }}{{ column }} is null
    {%- endfor %}
{% endtest %}
