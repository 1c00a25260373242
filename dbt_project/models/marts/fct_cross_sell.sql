{#- Incremental by month (it grows with customers x categories x months): a run rewrites the
    months from from_month (default as_of_month) to as_of_month and drops later ones
    (dbt_project.yml, monthly_incremental). -#}
with tiers as (
    select
        customer_id,
        as_of_date,
        tier,
        life_stage
    from {{ ref('fct_customer_tier') }}
    where {{ incremental_months('as_of_date') }}
),

customers as (
    select * from {{ ref('int_customers__monthly') }}
    where {{ incremental_months('as_of_date') }}
),

customer_month as (
    select * from {{ ref('fct_customer_month') }}
    where {{ incremental_months('as_of_date') }}
),

held as (
    select * from {{ ref('int_customer_month__categories') }}
    where {{ incremental_months('as_of_date') }}
),

-- product_order: each category's products in the order a suitable pick prefers them (lowest
-- risk, then lowest min purchase, then lowest code), numbered once per month on the small
-- product list so the per-customer pick sorts on integers
products as (
    select
        *,
        row_number() over (
            partition by as_of_date, category order by risk_rank, min_purchase_cny, product_code
        ) as product_order
    from {{ ref('int_products__on_sale') }}
),

tier_affinity as (
    select * from {{ ref('cross_sell_affinity') }}
),

life_affinity as (
    select * from {{ ref('life_stage_affinity') }}
),

rules as (
    select
        max(case when rule_key = 'max_product_risk_without_valid_assessment' then cast(rule_value as integer) end)
            as max_risk_unassessed,
        max(case when rule_key = 'credit_min_age' then cast(rule_value as integer) end) as credit_min_age
    from {{ ref('suitability') }}
),

score_cap as (
    {{ policy_select('cross_sell_score_cap', 'cap', 'decimal(9, 2)') }}
),

base as (
    select
        tiers.customer_id,
        tiers.as_of_date,
        tiers.tier,
        tiers.life_stage,
        customers.age_years,
        customers.risk_level,
        customers.risk_assessment_valid,
        customer_month.deposit_eom_cny,
        cast(substring(customers.risk_level, 2, 1) as integer) as customer_risk_rank
    from tiers
    inner join customers on tiers.customer_id = customers.customer_id and tiers.as_of_date = customers.as_of_date
    inner join customer_month
        on tiers.customer_id = customer_month.customer_id and tiers.as_of_date = customer_month.as_of_date
),

candidates as (
    select
        base.*,
        products.product_code,
        products.category,
        products.family,
        products.aum_component,
        products.risk_rating,
        products.risk_rank,
        products.min_purchase_cny,
        products.product_order
    from base
    inner join products on base.as_of_date = products.as_of_date
    left join held
        on
            base.customer_id = held.customer_id
            and base.as_of_date = held.as_of_date
            and products.category = held.category
    where held.category is null
),

checked as (
    select
        candidates.*,
        case
            when candidates.family = 'credit' and candidates.age_years < rules.credit_min_age
                then concat(
                    'age ', cast(candidates.age_years as {{ dbt.type_string() }}),
                    ' < ', cast(rules.credit_min_age as {{ dbt.type_string() }})
                )
        end as age_failure,
        case
            when candidates.risk_assessment_valid and candidates.risk_rank > candidates.customer_risk_rank
                then concat('risk ', candidates.risk_level, ' < ', candidates.risk_rating)
            when not candidates.risk_assessment_valid and candidates.risk_rank > rules.max_risk_unassessed
                then case
                    when candidates.risk_level is null then 'risk not assessed'
                    else 'risk assessment expired'
                end
        end as risk_failure,
        case
            when
                candidates.aum_component in ('deposit', 'investment')
                and candidates.min_purchase_cny > candidates.deposit_eom_cny
                then concat(
                    'min purchase ', cast(candidates.min_purchase_cny as {{ dbt.type_string() }}),
                    ' > funds ', cast(candidates.deposit_eom_cny as {{ dbt.type_string() }})
                )
        end as funds_failure
    from candidates
    cross join rules
),

judged as (
    select
        *,
        age_failure is null and risk_failure is null and funds_failure is null as is_suitable
    from checked
),

-- Per category: the suitable product with the lowest risk, then lowest min purchase, then
-- lowest code (product_order); when none is suitable, the product first in that order explains
-- the refusal. An aggregate and a join back on the unique product_order, not a window over
-- every customer x product.
preferred as (
    select
        customer_id,
        as_of_date,
        category,
        coalesce(min(case when is_suitable then product_order end), min(product_order)) as product_order
    from judged
    group by customer_id, as_of_date, category
),

picked as (
    select judged.*
    from judged
    inner join preferred
        on
            judged.customer_id = preferred.customer_id
            and judged.as_of_date = preferred.as_of_date
            and judged.category = preferred.category
            and judged.product_order = preferred.product_order
),

scored as (
    select
        picked.customer_id,
        picked.as_of_date,
        picked.category as product_category,
        cast(
            least(
                score_cap.cap,
                round(100 * coalesce(tier_affinity.weight, 0) * coalesce(life_affinity.multiplier, 1), 2)
            ) as decimal(9, 2)
        ) as score,
        picked.is_suitable as suitable,
        case when picked.is_suitable then picked.product_code end as recommended_product_code,
        nullif(concat_ws('; ', picked.age_failure, picked.risk_failure, picked.funds_failure), '') as reason
    from picked
    cross join score_cap
    left join tier_affinity on picked.tier = tier_affinity.tier and picked.category = tier_affinity.category
    left join life_affinity
        on picked.life_stage = life_affinity.life_stage and picked.category = life_affinity.category
),

final as (
    select
        customer_id,
        as_of_date,
        product_category,
        recommended_product_code,
        score,
        suitable,
        reason,
        case
            when suitable
                then cast(row_number() over (
                    partition by customer_id, as_of_date, suitable order by score desc, product_category asc
                ) as integer)
        end as priority_rank
    from scored
)

select * from final
