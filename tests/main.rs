//! pgcdc's end-to-end tests: one test binary against a real PostgreSQL and a real
//! Kafka-compatible broker (see `support`). Run with `scripts/test.sh`, or
//! `eval "$(scripts/install-deps.sh)" && cargo test --test main`.

mod support;

mod e2e_conformance;
mod e2e_differential;
mod e2e_rest;
mod e2e_secrets;
mod e2e_kafka_tls;
mod e2e_kafka_sasl;
mod e2e_kafka_oauth;
mod e2e_skeleton;
mod e2e_snapshot;
mod e2e_snapshot_resume;
mod e2e_streaming;
mod infra_smoke;
mod replication_protocol;
mod catalog_types;
mod e2e_exactly_once;
mod e2e_tls;
mod e2e_faults;
mod e2e_distributed;
mod e2e_avro;
mod e2e_ready;
mod e2e_service;
mod e2e_check;
mod e2e_metrics;
mod e2e_settings;
mod e2e_errors;
mod e2e_overrides;
mod e2e_registry_tls;
mod e2e_worker_references;
mod e2e_transforms;
mod e2e_failover;
