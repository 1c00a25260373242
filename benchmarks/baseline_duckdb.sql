-- Baseline (a) of issue #8: fct_customer_month and fct_customer_tier for every loaded month,
-- written by hand as one DuckDB script over the loader's raw schema and the rules as dbt
-- seeded them (schema rules). No dbt, no intermediate tables kept, no tests: the practical
-- limit of what the same rules cost on DuckDB. Output: schema baseline.
-- The docs/business-rules.md rules are restated here independently of the dbt models, so the benchmark's
-- equality check compares two implementations.

create schema if not exists baseline;

create or replace temp table bl_batches as
select batch_id, as_of_date from raw._load_batches;

create or replace temp table bl_months as
select
    as_of_date,
    (date_trunc('month', as_of_date))::date as month_start,
    (date_trunc('month', as_of_date) - interval 1 day)::date as prev_as_of_date,
    day(as_of_date) as days_in_month,
    as_of_date = min(as_of_date) over () as is_first,
    row_number() over (order by as_of_date) as month_index
from (select distinct as_of_date from bl_batches);

-- latest delivery wins for re-delivered rows (by the delivering batch's as_of_date)
create or replace temp table bl_fx as
with rates as (
    select r.currency, r.rate_date, r.cny_per_unit
    from raw.fx_rates r join bl_batches b on r._batch_id = b.batch_id
    qualify row_number() over (partition by r.currency, r.rate_date order by b.as_of_date desc) = 1
)
select m.as_of_date, r.currency, r.cny_per_unit::decimal(18, 6) as fx
from bl_months m join rates r on r.rate_date <= m.as_of_date
qualify row_number() over (partition by m.as_of_date, r.currency order by r.rate_date desc) = 1
union all
select as_of_date, 'CNY', 1::decimal(18, 6) from bl_months;

create or replace temp table bl_txn as
select
    t.txn_id, t.account_id, t.txn_ts, t.txn_ts::date as txn_date,
    last_day(t.txn_ts::date) as as_of_date,
    t.direction, t.amount, t.txn_type, t.channel, t.counterparty_bank, t.balance_after
from raw.deposit_transactions t join bl_batches b on t._batch_id = b.batch_id
qualify row_number() over (partition by t.txn_id order by b.as_of_date desc) = 1;

create or replace temp table bl_balances as
select d.account_id, d.as_of_date, d.ledger_balance
from raw.deposit_balances d join bl_batches b on d._batch_id = b.batch_id
qualify row_number() over (partition by d.account_id, d.as_of_date order by b.as_of_date desc) = 1;

-- accounts in force in each month, from that month's batch
create or replace temp table bl_accounts as
with net as (
    select account_id, as_of_date, sum(case when direction = 'C' then amount else -amount end) as net
    from bl_txn group by all
)
select
    a.account_id, a.customer_id, m.as_of_date, m.days_in_month, p.category, a.currency,
    a.maturity_date, a.auto_renew,
    a.closed_on is null or a.closed_on > m.as_of_date as is_open,
    coalesce(cur.ledger_balance, 0) as eom_balance,
    case
        when prev.ledger_balance is not null then prev.ledger_balance
        when m.is_first then coalesce(cur.ledger_balance, 0) - coalesce(net.net, 0)
        else 0
    end as opening_balance,
    greatest(a.opened_on, m.month_start) as first_day,
    case when a.closed_on <= m.as_of_date then a.closed_on else m.as_of_date + 1 end as end_day
from raw.accounts a
join bl_batches b on a._batch_id = b.batch_id
join bl_months m on b.as_of_date = m.as_of_date
left join raw.products p on p.product_code = a.product_code and p._batch_id = a._batch_id
left join bl_balances cur on cur.account_id = a.account_id and cur.as_of_date = m.as_of_date
left join bl_balances prev on prev.account_id = a.account_id and prev.as_of_date = m.prev_as_of_date
left join net on net.account_id = a.account_id and net.as_of_date = m.as_of_date
where a.opened_on <= m.as_of_date and (a.closed_on is null or a.closed_on >= m.month_start);

-- daily balance = last balance_after of the day, carried forward; opening balance before the
-- first transaction; nothing before opening or from closing. Summed as balance x days.
create or replace temp table bl_account_adb as
with day_end as (
    select account_id, as_of_date, txn_date, balance_after
    from bl_txn
    qualify row_number() over (partition by account_id, txn_date order by txn_ts desc, txn_id desc) = 1
),
runs as (
    select a.account_id, a.as_of_date, a.first_day as run_start,
        coalesce(min(d.txn_date), a.end_day) as run_end, a.opening_balance as balance
    from bl_accounts a
    left join day_end d on d.account_id = a.account_id and d.as_of_date = a.as_of_date
    group by a.account_id, a.as_of_date, a.first_day, a.end_day, a.opening_balance
    union all
    select d.account_id, d.as_of_date, d.txn_date,
        coalesce(lead(d.txn_date) over (partition by d.account_id, d.as_of_date order by d.txn_date), a.end_day),
        d.balance_after
    from day_end d join bl_accounts a on d.account_id = a.account_id and d.as_of_date = a.as_of_date
),
balance_days as (
    select r.account_id, r.as_of_date,
        sum(r.balance * greatest(0, datediff('day', greatest(r.run_start, a.first_day), least(r.run_end, a.end_day))))
            as balance_days
    from runs r join bl_accounts a on r.account_id = a.account_id and r.as_of_date = a.as_of_date
    group by all
)
select
    a.*, fx.fx,
    (coalesce(bd.balance_days, 0) / a.days_in_month * fx.fx)::decimal(18, 6) as adb_cny,
    (a.eom_balance * fx.fx)::decimal(18, 6) as eom_cny
from bl_accounts a
left join balance_days bd on bd.account_id = a.account_id and bd.as_of_date = a.as_of_date
left join bl_fx fx on fx.as_of_date = a.as_of_date and fx.currency = a.currency;

create or replace temp table bl_deposits as
select
    customer_id, as_of_date,
    round(sum(adb_cny), 2)::decimal(18, 2) as deposit_adb_cny,
    round(sum(case when is_open then eom_cny else 0 end), 2)::decimal(18, 2) as deposit_eom_cny,
    round(sum(case
        when category in ('time_deposit', 'large_cd') and is_open and not coalesce(auto_renew, false)
            and maturity_date > as_of_date and maturity_date <= as_of_date + 30 then eom_cny
        else 0 end), 2)::decimal(18, 2) as maturing_30d_cny,
    count(*) filter (where is_open) as open_accounts
from bl_account_adb group by all;

create or replace temp table bl_holdings as
select h.customer_id, h.as_of_date, p.category, f.family, f.aum_component, h.holding_value,
    (h.holding_value * fx.fx)::decimal(18, 6) as value_cny
from raw.product_holdings h
join bl_months m on h.as_of_date = m.as_of_date
left join raw.products p on p.product_code = h.product_code and p._batch_id = h._batch_id
left join rules.product_families f on f.category = p.category
left join bl_fx fx on fx.as_of_date = h.as_of_date and fx.currency = p.currency;

create or replace temp table bl_activity as
select a.customer_id, t.as_of_date,
    round(sum(case when t.direction = 'C' and t.txn_type <> 'interest' then t.amount * fx.fx else 0 end), 2)
        ::decimal(18, 2) as inflow_cny,
    round(sum(case when t.direction = 'D' and t.txn_type <> 'fee' then t.amount * fx.fx else 0 end), 2)
        ::decimal(18, 2) as outflow_cny,
    round(sum(case when t.direction = 'D' and t.txn_type = 'transfer_out' and t.counterparty_bank is not null
        then t.amount * fx.fx else 0 end), 2)::decimal(18, 2) as interbank_outflow_cny,
    count(*) filter (where t.channel <> 'auto' and t.txn_type not in ('interest', 'fee', 'maturity_payout'))
        as customer_txn_count
from bl_txn t
join bl_accounts a on t.account_id = a.account_id and t.as_of_date = a.as_of_date
left join bl_fx fx on fx.as_of_date = t.as_of_date and fx.currency = a.currency
group by all;

create or replace temp table bl_customers as
select c.customer_id, m.as_of_date, c.birth_date, c.onboarded_on, c.is_payroll, c.risk_level,
    c.risk_assessed_on,
    year(m.as_of_date) - year(c.birth_date)
        - case when month(m.as_of_date) * 100 + day(m.as_of_date) < month(c.birth_date) * 100 + day(c.birth_date)
            then 1 else 0 end as age
from raw.customers c
join bl_batches b on c._batch_id = b.batch_id
join bl_months m on m.as_of_date = b.as_of_date;

create or replace temp table bl_categories as
select customer_id, as_of_date, category from bl_account_adb where is_open
union
select customer_id, as_of_date, category from bl_holdings;

create or replace table baseline.fct_customer_month as
with complaints as (
    select c.customer_id, m.as_of_date, count(*) as n, count(*) filter (where c.severity = 'high') as high
    from (
        select c.* from raw.complaints c join bl_batches b on c._batch_id = b.batch_id
        qualify row_number() over (partition by c.complaint_id order by b.as_of_date desc) = 1
    ) c
    join bl_months m on c.opened_at::date > m.as_of_date - 90 and c.opened_at::date <= m.as_of_date
    group by all
),
holdings as (
    select customer_id, as_of_date,
        round(sum(case when aum_component = 'investment' then value_cny else 0 end), 2)::decimal(18, 2) as inv,
        round(sum(case when aum_component = 'credit' then value_cny else 0 end), 2)::decimal(18, 2) as credit,
        count(*) filter (where holding_value > 0) as positive
    from bl_holdings group by all
),
categories as (
    select customer_id, as_of_date, count(distinct category) as n from bl_categories group by all
)
select
    c.customer_id, c.as_of_date,
    (coalesce(d.deposit_adb_cny, 0) + coalesce(h.inv, 0))::decimal(18, 2) as aum_cny,
    coalesce(d.deposit_adb_cny, 0)::decimal(18, 2) as deposit_adb_cny,
    coalesce(d.deposit_eom_cny, 0)::decimal(18, 2) as deposit_eom_cny,
    coalesce(h.inv, 0)::decimal(18, 2) as investment_eom_cny,
    coalesce(h.credit, 0)::decimal(18, 2) as credit_outstanding_cny,
    coalesce(cat.n, 0)::integer as product_categories_held,
    coalesce(act.customer_txn_count, 0)::integer as customer_txn_count,
    coalesce(act.inflow_cny, 0)::decimal(18, 2) as inflow_cny,
    coalesce(act.outflow_cny, 0)::decimal(18, 2) as outflow_cny,
    coalesce(act.interbank_outflow_cny, 0)::decimal(18, 2) as interbank_outflow_cny,
    coalesce(cp.n, 0)::integer as complaints_90d,
    coalesce(d.maturing_30d_cny, 0)::decimal(18, 2) as maturing_30d_cny
from bl_customers c
left join bl_deposits d using (customer_id, as_of_date)
left join holdings h using (customer_id, as_of_date)
left join bl_activity act using (customer_id, as_of_date)
left join complaints cp using (customer_id, as_of_date)
left join categories cat using (customer_id, as_of_date)
where c.onboarded_on <= c.as_of_date and (coalesce(d.open_accounts, 0) > 0 or coalesce(h.positive, 0) > 0);

-- raw tier: threshold version in force (latest effective_from), highest qualifying rank
create or replace temp table bl_raw_tier as
with versions as (
    select m.as_of_date, t.version
    from bl_months m join (select distinct version, effective_from from rules.tier_thresholds) t
        on t.effective_from <= m.as_of_date
    qualify row_number() over (partition by m.as_of_date order by t.effective_from desc, t.version desc) = 1
)
select f.customer_id, f.as_of_date, m.month_index, f.aum_cny, v.version,
    coalesce(
        (select max(t.tier_rank) from rules.tier_thresholds t where t.version = v.version and f.aum_cny >= t.min_aum_cny),
        (select min(t.tier_rank) from rules.tier_thresholds t where t.version = v.version)
    ) as raw_rank,
    f.aum_cny >= (select policy_value::decimal(18, 2) from rules.tier_policy where policy_key = 'hnw_min_aum_cny')
        as is_hnw
from baseline.fct_customer_month f
join versions v using (as_of_date)
join bl_months m using (as_of_date);

-- held tier with the downgrade grace: state carried month to month over a dense
-- customer x month grid (a month off book has no raw rank and resets the state)
create or replace temp table bl_state as
with recursive
grace as (select policy_value::integer as g from rules.tier_policy where policy_key = 'downgrade_grace_months'),
grid as (
    select c.customer_id, m.month_index, r.raw_rank
    from (select distinct customer_id from bl_raw_tier) c
    cross join bl_months m
    left join bl_raw_tier r on r.customer_id = c.customer_id and r.month_index = m.month_index
),
state(customer_id, month_index, raw_rank, prior_rank, tier_rank, below, best, tier_change) as (
    select customer_id, month_index, raw_rank, null::integer, raw_rank,
        case when raw_rank is null then null else 0 end, null::integer,
        case when raw_rank is null then null else 'new' end
    from grid where month_index = 1
    union all
    select g.customer_id, g.month_index, g.raw_rank, s.tier_rank,
        case
            when g.raw_rank is null then null
            when s.tier_rank is null or g.raw_rank >= s.tier_rank then g.raw_rank
            when s.below + 1 >= grace.g then greatest(coalesce(s.best, g.raw_rank), g.raw_rank)
            else s.tier_rank
        end,
        case
            when g.raw_rank is null then null
            when s.tier_rank is null or g.raw_rank >= s.tier_rank or s.below + 1 >= grace.g then 0
            else s.below + 1
        end,
        case
            when g.raw_rank is null or s.tier_rank is null or g.raw_rank >= s.tier_rank
                or s.below + 1 >= grace.g then null
            else greatest(coalesce(s.best, g.raw_rank), g.raw_rank)
        end,
        case
            when g.raw_rank is null then null
            when s.tier_rank is null then 'new'
            when g.raw_rank > s.tier_rank then 'up'
            when g.raw_rank = s.tier_rank then 'same'
            when s.below + 1 >= grace.g and greatest(coalesce(s.best, g.raw_rank), g.raw_rank) < s.tier_rank
                then 'down'
            else 'same'
        end
    from state s
    join grid g on g.customer_id = s.customer_id and g.month_index = s.month_index + 1
    cross join grace
)
select * from state where raw_rank is not null;

create or replace table baseline.fct_customer_tier as
with window_months as (
    select policy_value::integer as w from rules.tier_policy where policy_key = 'activity_window_months'
),
trailing_txn as (
    select f.customer_id, f.as_of_date, sum(h.customer_txn_count) as txn
    from baseline.fct_customer_month f
    cross join window_months
    join baseline.fct_customer_month h
        on h.customer_id = f.customer_id and h.as_of_date <= f.as_of_date
        and h.as_of_date > last_day(f.as_of_date - to_months(window_months.w))
    group by all
),
families as (
    select c.customer_id, c.as_of_date, count(distinct f.family) as n
    from bl_categories c left join rules.product_families f using (category)
    group by all
),
tiered as (
select
    s.customer_id, r.as_of_date,
    held.tier, s.tier_rank::integer as tier_rank, raw.tier as raw_tier, prior.tier as prior_tier,
    s.tier_change, r.aum_cny as aum_basis_cny, r.is_hnw, s.below::integer as months_below_tier,
    r.version as threshold_version,
    act.segment as activity_segment, rs.risk_segment, ls.segment as life_stage,
    (select d.depth_segment from rules.depth_segments d
        where fam.n >= d.min_families and (not d.requires_payroll or c.is_payroll)
        order by d.requires_payroll desc, d.min_families desc limit 1) as depth_segment,
    s.raw_rank::integer as raw_tier_rank,
    case
        when s.prior_rank is null then 'new'
        when s.raw_rank > s.prior_rank then 'upgrade'
        when s.raw_rank = s.prior_rank then 'at_tier'
        when s.below = 0 then 'downgrade_after_grace'
        else 'below_tier_on_watch'
    end as grace_branch
from bl_state s
join bl_raw_tier r on r.customer_id = s.customer_id and r.month_index = s.month_index
join bl_customers c on c.customer_id = s.customer_id and c.as_of_date = r.as_of_date
join trailing_txn t on t.customer_id = s.customer_id and t.as_of_date = r.as_of_date
left join families fam on fam.customer_id = s.customer_id and fam.as_of_date = r.as_of_date
join rules.tier_thresholds held on held.version = r.version and held.tier_rank = s.tier_rank
join rules.tier_thresholds raw on raw.version = r.version and raw.tier_rank = s.raw_rank
left join rules.tier_thresholds prior on prior.version = r.version and prior.tier_rank = s.prior_rank
left join rules.segment_bands act on act.segment_type = 'activity' and t.txn >= act.min_value
    and (act.max_value is null or t.txn <= act.max_value)
left join rules.segment_bands ls on ls.segment_type = 'life_stage' and c.age >= ls.min_value
    and (ls.max_value is null or c.age <= ls.max_value)
left join rules.risk_segments rs on rs.risk_level = coalesce(c.risk_level, 'none')
)
select *, concat(tier, '.', risk_segment, '.', depth_segment) as segment_code from tiered;
