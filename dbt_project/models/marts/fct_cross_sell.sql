{#- Incremental by month (it grows with customers x categories x months): a run rewrites the
    months from from_month (default as_of_month) to as_of_month and drops later ones
    (dbt_project.yml, monthly_incremental). With fct_churn_signals, the largest query of a full
    build: a run of more than one month builds one node at a time so the two never share
    DuckDB's memory_limit (orchestration/tierwise/defs/dbt_assets.py, build_args). -#}
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

-- The suitability rules (docs/business-rules.md), each a condition on one customer-month x product row `c`
-- (true = refused): they word the refusal of the one product picked below, and the pick
-- (limits .. picked_rows) applies the same three rules, null included, without a row per product.
{#- which products the age and funds rules apply to (also used by the pick, on the products alone) -#}
{%- set credit_product -%}
    coalesce(c.family = 'credit', false)
{%- endset -%}
{%- set funds_gated -%}
    coalesce(c.aum_component in ('deposit', 'investment'), false)
{%- endset -%}
{%- set age_refused -%}
    ({{ credit_product }} and coalesce(c.age_years < rules.credit_min_age, false))
{%- endset -%}
{%- set risk_refused -%}
    coalesce(
        (c.risk_assessment_valid and c.risk_rank > c.customer_risk_rank)
        or (not c.risk_assessment_valid and c.risk_rank > rules.max_risk_unassessed),
        false
    )
{%- endset -%}
{%- set funds_refused -%}
    ({{ funds_gated }} and coalesce(c.min_purchase_cny > c.deposit_eom_cny, false))
{%- endset -%}
{#- a picked row: the customer-month's columns (base) and these product columns, product_order last -#}
{%- set offer_columns = [
    'product_code', 'category', 'family', 'aum_component', 'risk_rating', 'risk_rank', 'min_purchase_cny'
] %}
{%- set base_columns = [
    'customer_id', 'as_of_date', 'tier', 'life_stage', 'age_years', 'risk_level', 'risk_assessment_valid',
    'deposit_eom_cny', 'customer_risk_rank'
] %}

-- The pick without a customer x product row. Of the three rules, age and risk depend on the
-- customer only through two values: the highest product risk rank the customer may buy
-- (risk_limit: their own rank when the assessment is valid, the unassessed maximum when it is
-- not; null when unknown, which refuses nothing, as the conditions above) and whether they are
-- under the credit age. Funds is a threshold: a product passes when its funds_needed (the
-- min purchase of a deposit or investment product; null for others, always passing) is at most
-- the customer's deposits. So for each month, category, risk_limit and under_age (a few dozen
-- keys a month), the pick as a function of the customer's deposits is a step function: sorted
-- by funds_needed, the running minimum of product_order, each step an interval [lo, hi).
limits as (
    select
        {%- for column in base_columns %}
            base.{{ column }},
        {%- endfor %}
        case
            when base.risk_assessment_valid then base.customer_risk_rank
            when not base.risk_assessment_valid then rules.max_risk_unassessed
        end as risk_limit,
        coalesce(base.age_years < rules.credit_min_age, false) as under_age
    from base
    cross join rules
),

-- risk_limit as a join key (limit_key): null (refuses nothing) as -1, never a rank
limit_keys as (
    select
        *,
        coalesce(risk_limit, -1) as limit_key
    from limits
),

profiles as (
    select distinct
        as_of_date,
        risk_limit,
        under_age,
        limit_key
    from limit_keys
),

categories as (
    select distinct
        as_of_date,
        category
    from products
),

-- the products each profile may buy on the age and risk rules, with the funds they need
eligible as (
    select
        profiles.as_of_date,
        c.category,
        profiles.limit_key,
        profiles.under_age,
        c.product_order,
        case when {{ funds_gated }} then c.min_purchase_cny end as funds_needed
    from profiles
    inner join products as c on profiles.as_of_date = c.as_of_date
    where
        not coalesce(c.risk_rank > profiles.risk_limit, false)
        and not (profiles.under_age and {{ credit_product }})
),

steps as (
    select
        as_of_date,
        category,
        limit_key,
        under_age,
        funds_needed as lo,
        min(product_order) as best_at_lo
    from eligible
    group by as_of_date, category, limit_key, under_age, funds_needed
),

-- lo null: from minus infinity; hi null: to plus infinity (a customer whose deposits are
-- unknown is refused on no funds rule, so gets the last interval)
intervals as (
    select
        as_of_date,
        category,
        limit_key,
        under_age,
        lo,
        lead(lo) over (partition by as_of_date, category, limit_key, under_age order by lo nulls first) as hi,
        min(best_at_lo) over (
            partition by as_of_date, category, limit_key, under_age
            order by lo nulls first
            rows between unbounded preceding and current row
        ) as product_order
    from steps
),

-- below the lowest funds needed, or when the profile may buy nothing in the category: no
-- suitable product (product_order null: the category's first product explains the refusal)
unsuitable_intervals as (
    select
        profiles.as_of_date,
        categories.category,
        profiles.limit_key,
        profiles.under_age,
        cast(null as decimal(18, 2)) as lo,
        min(steps.lo) as hi,
        cast(null as integer) as product_order
    from profiles
    inner join categories on profiles.as_of_date = categories.as_of_date
    left join steps
        on
            profiles.as_of_date = steps.as_of_date
            and categories.category = steps.category
            and profiles.limit_key = steps.limit_key
            and profiles.under_age = steps.under_age
    group by profiles.as_of_date, categories.category, profiles.limit_key, profiles.under_age
    having sum(case when steps.category is not null and steps.lo is null then 1 else 0 end) = 0
),

all_intervals as (
    select * from intervals
    union all
    select * from unsuitable_intervals
),

-- each customer-month x category not held, in exactly one interval of its profile
picked_rows as (
    select
        {%- for column in base_columns %}
            limit_keys.{{ column }},
        {%- endfor %}
        {%- for column in offer_columns %}
            products.{{ column }},
        {%- endfor %}
        products.product_order
    from limit_keys
    inner join categories on limit_keys.as_of_date = categories.as_of_date
    left join held
        on
            limit_keys.customer_id = held.customer_id
            and limit_keys.as_of_date = held.as_of_date
            and categories.category = held.category
    inner join all_intervals as i
        on
            limit_keys.as_of_date = i.as_of_date
            and categories.category = i.category
            and limit_keys.limit_key = i.limit_key
            and limit_keys.under_age = i.under_age
            and case
                when limit_keys.deposit_eom_cny is null then i.hi is null
                else
                    (i.lo is null or limit_keys.deposit_eom_cny >= i.lo)
                    and (i.hi is null or limit_keys.deposit_eom_cny < i.hi)
            end
    inner join products
        on
            limit_keys.as_of_date = products.as_of_date
            and categories.category = products.category
            and products.product_order = coalesce(i.product_order, 1)
    where held.category is null
),

picked as (
    select
        c.*,
        case
            when {{ age_refused }}
                then concat(
                    'age ', cast(c.age_years as {{ dbt.type_string() }}),
                    ' < ', cast(rules.credit_min_age as {{ dbt.type_string() }})
                )
        end as age_failure,
        case
            when c.risk_assessment_valid and c.risk_rank > c.customer_risk_rank
                then concat('risk ', c.risk_level, ' < ', c.risk_rating)
            when {{ risk_refused }}
                then case
                    when c.risk_level is null then 'risk not assessed'
                    else 'risk assessment expired'
                end
        end as risk_failure,
        case
            when {{ funds_refused }}
                then concat(
                    'min purchase ', cast(c.min_purchase_cny as {{ dbt.type_string() }}),
                    ' > funds ', cast(c.deposit_eom_cny as {{ dbt.type_string() }})
                )
        end as funds_failure,
        -- the same refusals as codes (what BI, the report and `tierwise explain` read)
        case when {{ age_refused }} then 'under_age' end as age_code,
        case
            when c.risk_assessment_valid and c.risk_rank > c.customer_risk_rank then 'risk_mismatch'
            when {{ risk_refused }}
                then case when c.risk_level is null then 'missing_assessment' else 'expired_assessment' end
        end as risk_code,
        case when {{ funds_refused }} then 'insufficient_funds' end as funds_code,
        rules.credit_min_age,
        not {{ age_refused }} and not {{ risk_refused }} and not {{ funds_refused }} as is_suitable
    from picked_rows as c
    cross join rules
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
        nullif(concat_ws('; ', picked.age_failure, picked.risk_failure, picked.funds_failure), '') as reason,
        nullif(concat_ws(',', picked.age_code, picked.risk_code, picked.funds_code), '') as refusal_codes,
        -- each refusal's actual and required values (null when that rule did not refuse)
        cast(case when picked.age_code is not null then picked.age_years end as integer) as refused_customer_age,
        cast(case when picked.age_code is not null then picked.credit_min_age end as integer) as refused_min_age,
        cast(
            case when picked.risk_code is not null then picked.risk_level end as {{ dbt.type_string() }}
        ) as refused_customer_risk_level,
        cast(
            case when picked.risk_code is not null then picked.risk_rating end as {{ dbt.type_string() }}
        ) as refused_product_risk_rating,
        cast(
            case when picked.funds_code is not null then picked.min_purchase_cny end as decimal(18, 2)
        ) as refused_min_purchase_cny,
        cast(
            case when picked.funds_code is not null then picked.deposit_eom_cny end as decimal(18, 2)
        ) as refused_funds_cny
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
        refusal_codes,
        refused_customer_age,
        refused_min_age,
        refused_customer_risk_level,
        refused_product_risk_rating,
        refused_min_purchase_cny,
        refused_funds_cny,
        case
            when suitable
                then cast(row_number() over (
                    partition by customer_id, as_of_date, suitable order by score desc, product_category asc
                ) as integer)
        end as priority_rank
    from scored
)

select * from final
