-- Landing reconciliation per batch and file (对账): rows delivered = loaded + quarantined, as the
-- loader recorded them, dated by the batch's month end. Published so the data-quality appendix
-- of the monthly review and BI read it without access to the raw schema.
with batches as (
    select * from {{ ref('stg_core__load_batches') }}
),

reconciliation as (
    select * from {{ ref('stg_core__load_reconciliation') }}
),

final as (
    select
        batches.batch_as_of_date as as_of_date,
        reconciliation.batch_id,
        batches.batch_revision,
        reconciliation.table_name,
        reconciliation.source_file,
        reconciliation.rows_delivered,
        reconciliation.rows_loaded,
        reconciliation.rows_quarantined,
        reconciliation.file_sha256
    from reconciliation
    inner join batches on reconciliation.batch_id = batches.batch_id
)

select * from final
