-- Each relationship manager's book per month: clients on book assigned at month end, their
-- AUM, how many are on the churn watchlist, and capacity (max_clients, else the rm_capacity
-- seed default for the role; no cap when both are empty -> never over capacity). Incremental by
-- month (dbt_project.yml): every input is read for the run's months only.
with managers as (
    select * from {{ ref('stg_core__relationship_managers') }}
),

month_batches as (
    select * from {{ ref('int_month_batches') }}
    where {{ incremental_months('as_of_date') }}
),

assignments as (
    select * from {{ ref('int_customer_month__rm') }}
    where {{ incremental_months('as_of_date') }}
),

measures as (
    select * from {{ ref('fct_customer_month') }}
    where {{ incremental_months('as_of_date') }}
),

signals as (
    select * from {{ ref('fct_churn_signals') }}
    where {{ incremental_months('as_of_date') }}
),

capacity as (
    select * from {{ ref('rm_capacity') }}
),

book as (
    select
        assignments.rm_id,
        assignments.as_of_date,
        count(*) as clients,
        sum(measures.aum_cny) as aum_cny,
        sum(case when signals.is_watchlist then 1 else 0 end) as watchlist_clients
    from assignments
    inner join measures
        on assignments.customer_id = measures.customer_id and assignments.as_of_date = measures.as_of_date
    left join signals
        on assignments.customer_id = signals.customer_id and assignments.as_of_date = signals.as_of_date
    group by assignments.rm_id, assignments.as_of_date
),

roster as (
    select
        managers.rm_id,
        month_batches.as_of_date,
        managers.rm_role,
        managers.branch_id,
        coalesce(managers.max_clients, capacity.default_max_clients) as max_clients
    from managers
    inner join month_batches on managers.batch_id = month_batches.batch_id
    left join capacity on managers.rm_role = capacity.rm_role
),

final as (
    select
        roster.rm_id,
        roster.as_of_date,
        roster.rm_role,
        cast(coalesce(book.clients, 0) as integer) as clients,
        cast(coalesce(book.aum_cny, 0) as decimal(18, 2)) as aum_cny,
        cast(coalesce(book.watchlist_clients, 0) as integer) as watchlist_clients,
        cast(roster.max_clients as integer) as max_clients,
        roster.branch_id,
        coalesce(coalesce(book.clients, 0) > roster.max_clients, false) as over_capacity
    from roster
    left join book on roster.rm_id = book.rm_id and roster.as_of_date = book.as_of_date
)

select * from final
