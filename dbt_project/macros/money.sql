{#- The mean of a money column (decimal(18,2)) rounded half away from zero to the cent, the same
    on every engine. avg() cannot be used: DuckDB averages a decimal in double (x.xx5 becomes
    x.xx4999... and rounds down) while Spark averages in decimal (rounds up), so the two
    warehouses would publish different cents. Here the sum is exact (decimal), the rounding is
    done on whole cents, and the only division is of two integers whose quotient's floor a
    double holds exactly below 10^15 cents. Nulls are ignored, as avg() does; no rows -> null. -#}
{% macro mean_to_cent(expression) -%}
    cast(
        sign(sum({{ expression }}))
        * floor(
            (2 * abs(sum({{ expression }})) * 100 + count({{ expression }}))
            / nullif(2 * count({{ expression }}), 0)
        )
        / 100
        as decimal(18, 2)
    )
{%- endmacro %}
