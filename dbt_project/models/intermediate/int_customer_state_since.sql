{#- Since when each customer has been in this month's state: the month end that began the
    unbroken run of consecutive months with the same tier, threshold version and segments (the
    start of the customer's version in snap_customer_tier). Incremental by month: a run carries
    on from the state_since stored for the month before its first month, so a month's run reads
    two months of fct_customer_tier, not the history; a full build reads every month. A gap
    month (the customer not on the book) starts a new run. -#}
with tiers as (
    select
        customer_id,
        as_of_date,
        {{ customer_state_key() }} as state_key,
        cast(null as date) as carried_since
    from {{ ref('fct_customer_tier') }}
    where {{ incremental_months('as_of_date') }}
),

{% if is_incremental() %}
    before_run as (
        select {{ prev_month_end('min(as_of_date)') }} as as_of_date from tiers
    ),

    -- the month before the run as stored: its state and since when it held
    carried as (
        select
            prior.customer_id,
            prior.as_of_date,
            {{ customer_state_key('prior') }} as state_key,
            stored.state_since as carried_since
        from {{ ref('fct_customer_tier') }} as prior
        inner join before_run on prior.as_of_date = before_run.as_of_date
        inner join {{ this }} as stored
            on prior.customer_id = stored.customer_id and prior.as_of_date = stored.as_of_date
    ),
{% endif %}

months_in_order as (
    select * from tiers
    {% if is_incremental() %}
        union all
        select * from carried
    {% endif %}
),

changes as (
    select
        *,
        case
            when
                lag(state_key) over (partition by customer_id order by as_of_date) = state_key
                and lag(as_of_date) over (partition by customer_id order by as_of_date)
                = {{ prev_month_end('as_of_date') }}
                then 0
            else 1
        end as is_change
    from months_in_order
),

runs as (
    select
        *,
        sum(is_change) over (
            partition by customer_id order by as_of_date rows between unbounded preceding and current row
        ) as run_number
    from changes
),

final as (
    select
        customer_id,
        as_of_date,
        carried_since,
        -- a run that continues the stored month starts where that month's run started
        min(coalesce(carried_since, as_of_date)) over (partition by customer_id, run_number) as state_since
    from runs
)

select
    customer_id,
    as_of_date,
    state_since
from final
where carried_since is null
