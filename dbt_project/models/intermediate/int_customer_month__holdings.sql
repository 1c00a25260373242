-- Per customer and month: investment AUM (wealth management, funds, bonds, precious metals,
-- insurance) and credit outstanding (cards, consumer loans, mortgages), CNY at month end.
with holdings as (
    select * from {{ ref('int_holdings__monthly') }}
),

final as (
    select
        customer_id,
        as_of_date,
        cast(
            round(sum(case when aum_component = 'investment' then holding_value_cny else 0 end), 2)
            as decimal(18, 2)
        ) as investment_eom_cny,
        cast(
            round(sum(case when aum_component = 'credit' then holding_value_cny else 0 end), 2)
            as decimal(18, 2)
        ) as credit_outstanding_cny,
        count(case when holding_value > 0 then 1 end) as positive_holdings
    from holdings
    where {{ incremental_months('as_of_date') }}
    group by customer_id, as_of_date
)

select * from final
