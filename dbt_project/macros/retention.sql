{#- Last month's customers and what became of them, per month of the run (资产留存率 / 客户留存率),
    written once for rpt_bank_kpis (bank-wide) and rpt_tier_kpis (by last month's tier: `by`).
    The calling model defines the CTEs `months` (int_months, the run's months), `tiers`
    (fct_customer_tier) and `customer_month` (fct_customer_month). Per month (and group):
    customers_last_month (on book at the previous month end), still_on_book,
    aum_retention_rate = their AUM this month (0 for those who left) / their AUM last month, and
    customer_retention_rate = still_on_book / customers_last_month, and the two AUM sums behind
    the AUM rate (aum_last_month_cny, aum_retained_cny: what the semantic layer's ratio metrics
    add up over tiers and months). A month whose previous month
    was not built has no row (the rates are null where the caller left-joins). -#}
{% macro last_month_customers(by=none) -%}
    select
        months.as_of_date,
        {%- if by %}
            previous.{{ by }},
        {%- endif %}
        count(*) as customers_last_month,
        count(this_month.customer_id) as still_on_book,
        sum(previous_month.aum_cny) as aum_last_month_cny,
        sum(coalesce(this_month.aum_cny, 0)) as aum_retained_cny,
        -- ratios in double on every engine (DuckDB divides decimals in double; Spark would not)
        cast(sum(coalesce(this_month.aum_cny, 0)) as double)
        / nullif(cast(sum(previous_month.aum_cny) as double), 0) as aum_retention_rate,
        cast(count(this_month.customer_id) as double) / count(*) as customer_retention_rate
    from months
    inner join tiers as previous on months.prev_as_of_date = previous.as_of_date
    inner join customer_month as previous_month
        on previous.customer_id = previous_month.customer_id and previous.as_of_date = previous_month.as_of_date
    left join customer_month as this_month
        on previous.customer_id = this_month.customer_id and months.as_of_date = this_month.as_of_date
    group by months.as_of_date{% if by %}, previous.{{ by }}{% endif %}
{%- endmacro %}
