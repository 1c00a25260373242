-- Per customer and month: customer-initiated transactions and money flows in CNY.
-- customer_txn_count excludes channel 'auto' and interest / fee / maturity_payout;
-- inflow = credits except interest; outflow = debits except fees; interbank outflow =
-- transfer_out debits to another bank (counterparty_bank not null) (docs/business-rules.md).
with transactions as (
    select * from {{ ref('int_deposit_transactions') }}
),

accounts as (
    select * from {{ ref('int_accounts__monthly') }}
),

fx as (
    select * from {{ ref('int_fx_rates__monthly') }}
),

in_cny as (
    select
        accounts.customer_id,
        transactions.as_of_date,
        transactions.direction,
        transactions.txn_type,
        transactions.channel,
        transactions.counterparty_bank,
        transactions.amount * fx.cny_per_unit as amount_cny
    from transactions
    inner join accounts
        on transactions.account_id = accounts.account_id and transactions.as_of_date = accounts.as_of_date
    left join fx on transactions.as_of_date = fx.as_of_date and accounts.currency = fx.currency
    where {{ incremental_months('transactions.as_of_date') }}
),

final as (
    select
        customer_id,
        as_of_date,
        cast(
            round(sum(case when direction = 'C' and txn_type <> 'interest' then amount_cny else 0 end), 2)
            as decimal(18, 2)
        ) as inflow_cny,
        cast(
            round(sum(case when direction = 'D' and txn_type <> 'fee' then amount_cny else 0 end), 2)
            as decimal(18, 2)
        ) as outflow_cny,
        cast(round(sum(
            case
                when direction = 'D' and txn_type = 'transfer_out' and counterparty_bank is not null
                    then amount_cny
                else 0
            end
        ), 2) as decimal(18, 2)) as interbank_outflow_cny,
        count(
            case
                when channel <> 'auto' and txn_type not in ('interest', 'fee', 'maturity_payout') then 1
            end
        ) as customer_txn_count
    from in_cny
    group by customer_id, as_of_date
)

select * from final
