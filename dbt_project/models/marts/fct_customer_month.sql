with measures as (
    select * from {{ ref('int_customer_month__measures') }}
    where {{ incremental_months('as_of_date') }}
),

final as (
    select
        customer_id,
        as_of_date,
        aum_cny,
        deposit_adb_cny,
        deposit_eom_cny,
        investment_eom_cny,
        credit_outstanding_cny,
        product_categories_held,
        customer_txn_count,
        inflow_cny,
        outflow_cny,
        interbank_outflow_cny,
        complaints_90d,
        maturing_30d_cny
    from measures
)

select * from final
