"""The segment explorer (`tierwise explore`, `make explore`): a Streamlit app over the published
serving file. `data.py` reads the publication (read-only, reopened on each new release);
`app.py` lays out the pages; the what-if is `tierwise/whatif.py` (the dbt models on a scratch
copy)."""
