-- Balance roll-forward breaks (余额勾稽) found by the loader, counted per month and check. Counts
-- only: the amounts are in each account's own currency and account ids stay in the build
-- database; a break is a warning on the source, the month is still built.
with breaks as (
    select * from {{ ref('stg_core__rollforward_breaks') }}
),

batches as (
    select * from {{ ref('stg_core__load_batches') }}
),

final as (
    select
        batches.batch_as_of_date as as_of_date,
        breaks.batch_id,
        breaks.check_name,
        count(*) as break_count,
        count(distinct breaks.account_id) as account_count
    from breaks
    inner join batches on breaks.batch_id = batches.batch_id
    group by batches.batch_as_of_date, breaks.batch_id, breaks.check_name
)

select * from final
