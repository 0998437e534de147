"""`compact`: compress closed logs, keep an integrity index, export a Parquet lake, retain.

Modules: lock (one compact per directory), scan (closed logs, debris), compress (the
atomic, verified .wslog -> .wslog.zst step), index (DATA_DIR/index.json), lake (Parquet),
run (the order of the steps, which is what makes a kill at any instant harmless).
"""
