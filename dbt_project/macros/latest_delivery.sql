{#- Rows of a staging relation keeping, for each key, the version from the latest batch (by
    batch as_of_date): a value re-delivered in a later batch replaces the earlier one. -#}
{% macro latest_delivery(relation, key_columns) -%}
    select delivered.*
    from (
        select
            delivery.*,
            row_number() over (
                partition by {% for key in key_columns %}delivery.{{ key }}{% if not loop.last %}, {% endif %}{% endfor %}
                order by delivery_batch.batch_as_of_date desc
            ) as delivery_rank
        from {{ relation }} as delivery
        inner join {{ ref('stg_core__load_batches') }} as delivery_batch
            on delivery.batch_id = delivery_batch.batch_id
    ) as delivered
    where delivered.delivery_rank = 1
{%- endmacro %}
