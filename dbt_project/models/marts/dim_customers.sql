-- One row per customer known in the latest month built: attributes as of that month,
-- masked name only, current tier (null when not on book) and current RM.
with customers as (
    select * from {{ ref('int_customers__monthly') }}
),

tiers as (
    select * from {{ ref('fct_customer_tier') }}
),

rm as (
    select * from {{ ref('int_customer_month__rm') }}
),

latest as (
    select max(as_of_date) as as_of_date from customers
),

final as (
    select
        customers.customer_id,
        customers.masked_name,
        customers.gender,
        customers.age_band,
        customers.life_stage,
        customers.risk_level,
        customers.risk_assessment_valid,
        customers.home_branch_id,
        customers.onboarded_on,
        customers.is_payroll,
        tiers.tier as current_tier,
        rm.rm_id as current_rm_id,
        customers.as_of_date
    from customers
    inner join latest on customers.as_of_date = latest.as_of_date
    left join tiers on customers.customer_id = tiers.customer_id and customers.as_of_date = tiers.as_of_date
    left join rm on customers.customer_id = rm.customer_id and customers.as_of_date = rm.as_of_date
)

select * from final
