{#- The month-end ledger balances a month-incremental model reads: those of the run's months and
    of the month before each (the opening side), one per account and month, the latest delivery
    (a balance re-delivered in a later batch replaces the earlier one: latest_delivery). The one
    definition for int_accounts__monthly and int_deposit_rollforward_breaks. -#}
{% macro latest_month_end_balances() -%}
    {%- set run_balances -%}
        (
            select * from {{ ref('stg_core__deposit_balances') }}
            where
                ({{ incremental_months('as_of_date') }})
                or ({{ incremental_months(month_end(add_months('as_of_date', 1))) }})
        )
    {%- endset -%}
    {{ latest_delivery(run_balances, ['account_id', 'as_of_date']) }}
{%- endmacro %}
