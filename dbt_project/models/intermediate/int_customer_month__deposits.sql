-- Per customer and month: deposit ADB, month-end deposits of open accounts, and the
-- time deposits / large CDs maturing in the next 30 days without auto-renew (大额到期).
with balances as (
    select * from {{ ref('int_account_month_balances') }}
),

final as (
    select
        customer_id,
        as_of_date,
        cast(round(sum(adb_cny), 2) as decimal(18, 2)) as deposit_adb_cny,
        cast(
            round(sum(case when is_open_at_month_end then month_end_balance_cny else 0 end), 2)
            as decimal(18, 2)
        ) as deposit_eom_cny,
        cast(round(sum(
            case
                when
                    category in ('time_deposit', 'large_cd')
                    and is_open_at_month_end
                    and not coalesce(auto_renew, false)
                    and maturity_date > as_of_date
                    and maturity_date <= {{ add_days('as_of_date', 30) }}
                    then month_end_balance_cny
                else 0
            end
        ), 2) as decimal(18, 2)) as maturing_30d_cny,
        count(case when is_open_at_month_end then 1 end) as open_deposit_accounts
    from balances
    where {{ incremental_months('as_of_date') }}
    group by customer_id, as_of_date
)

select * from final
