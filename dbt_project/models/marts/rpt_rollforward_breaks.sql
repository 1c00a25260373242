-- Balance roll-forward breaks (余额勾稽不平, int_deposit_rollforward_breaks) counted per month,
-- batch and check. Counts only: the amounts are in each account's own currency and account ids
-- stay in the build database; a break is a warning on the source, the month is still built.
with breaks as (
    select * from {{ ref('int_deposit_rollforward_breaks') }}
),

final as (
    select
        as_of_date,
        batch_id,
        check_name,
        count(*) as break_count,
        count(distinct account_id) as account_count
    from breaks
    group by as_of_date, batch_id, check_name
)

select * from final
