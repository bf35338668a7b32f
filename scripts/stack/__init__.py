"""The local stack without Docker: PostgreSQL, Redis, Kafka (KRaft), S3 (SeaweedFS), chDB.

Run through ``scripts/stack.sh up|down|status|env [--only NAME]``. Every server listens on
loopback only, keeps its data, logs and pid file under the stack directory
(``<repo>/.stack`` unless ``STACK_DIR`` says otherwise), and ``down`` stops only what
``up`` started. Ports and endpoints come from the same environment variables the services
read (``LEDGER_DATABASE_URL``, ``REDIS_URL``, ``KAFKA_BOOTSTRAP_SERVERS``,
``S3_ENDPOINT_URL``, ``CHDB_PATH``), so one ``eval "$(scripts/stack.sh env)"`` points both
at the same servers.
"""
