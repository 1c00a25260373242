{#- Generic data tests of a row or of a key that includes as_of_date, on a month-incremental
    model (incremental, unique_key as_of_date; dbt_project.yml), test the months the run wrote,
    not the whole history: an incremental run deletes and rewrites exactly those months and
    leaves every earlier month as a tested earlier run left it, so re-testing them costs time
    (most of a one-month refresh) and proves nothing new. Keys across months (`unique` on an id,
    a column combination without as_of_date) stay whole-table: a rewritten month can collide
    with an earlier one; `unique` on one column reads, of the whole table, the rows whose value
    occurs in the run's months (every pair that can collide has one side there; pairs only among
    earlier months were tested by the runs that wrote them), so it groups a month's ids, not the
    whole history's. A full refresh tests every month (tested_months), keys across months whole.
    Other models (views, tables rebuilt whole, seeds, snapshots) are tested whole; a test's own
    `where` config still applies. Overrides dbt's get_where_subquery, the hook dbt documents for
    this. One caveat: a model built for the first time by a run that is not a full refresh is
    tested on the run's months. Staging views of delivered rows (meta tested_by_batch, dbt_project.yml) are tested on
    the batches of the run's months the same way: a row or a key with batch_id is per batch. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- set conditions = [where] if where else [] -%}
    {%- set node = model_of(relation) if execute else none -%}
    {%- if node is not none and is_month_incremental(node) and is_partition_test(model, 'as_of_date') -%}
        {%- do conditions.append(tested_months('as_of_date')) -%}
    {%- elif node is not none and is_month_incremental(node) and is_single_column_unique(model) and not flags.FULL_REFRESH -%}
        {%- do conditions.append(
            model.column_name ~ ' in (select ' ~ model.column_name ~ ' from ' ~ relation ~ ' where ' ~ run_months('as_of_date') ~ ')'
        ) -%}
    {%- elif node is not none and node.config.meta.get('tested_by_batch') and is_partition_test(model, 'batch_id') -%}
        {%- do conditions.append('batch_id in (' ~ run_batch_ids() ~ ')') -%}
    {%- endif -%}
    {%- if conditions -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ '(' ~ conditions | join(') and (') ~ ')' }}) dbt_subquery
        {%- endset -%}
        {{ return(filtered) }}
    {%- endif -%}
    {{ return(relation) }}
{%- endmacro %}

{#- The model node a relation was built from, or none. -#}
{% macro model_of(relation) -%}
    {%- for node in graph.nodes.values() -%}
        {%- if node.resource_type == 'model' and node.alias == relation.identifier and node.schema == relation.schema -%}
            {{ return(node) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(none) }}
{%- endmacro %}

{#- Whether a model is materialized incrementally by month (by as_of_date) and writes only the
    run's months (not meta rewrites_earlier_months). -#}
{% macro is_month_incremental(node) -%}
    {{ return(
        node.config.materialized == 'incremental' and node.config.unique_key == 'as_of_date'
        and not node.config.meta.get('rewrites_earlier_months')
    ) }}
{%- endmacro %}

{#- SQL: the ids of the batches of the run's months (tested_months on the batch as_of_date),
    from the loader's batch table (a source: it exists before any model, so the test needs no
    dependency dbt does not know of). -#}
{% macro run_batch_ids() -%}
    {%- set batches = graph.sources['source.' ~ project_name ~ '.core._load_batches'] -%}
    select batch_id from {{ batches.relation_name }} where {{ tested_months('as_of_date') }}
{%- endmacro %}

{#- Whether a generic test is dbt's `unique` on one column (a key that may span months). -#}
{% macro is_single_column_unique(test_node) -%}
    {%- set metadata = test_node.get('test_metadata') or {} -%}
    {{ return(metadata.get('name') == 'unique' and test_node.get('column_name') is not none) }}
{%- endmacro %}

{#- Whether a generic test's verdict on a part of the table (a month, a batch: rows with one
    value of `column`) depends on that part's rows only: row checks (not_null, accepted_values,
    relationships, expressions, ranges) and keys that include `column`; `unique` on a column and
    keys without it compare rows across parts. -#}
{% macro is_partition_test(test_node, column) -%}
    {%- set metadata = test_node.get('test_metadata') or {} -%}
    {%- set name = metadata.get('name') -%}
    {%- if name == 'unique' -%}
        {{ return(false) }}
    {%- elif name == 'unique_combination_of_columns' -%}
        {{ return(column in metadata.get('kwargs', {}).get('combination_of_columns', [])) }}
    {%- endif -%}
    {{ return(name is not none) }}
{%- endmacro %}
