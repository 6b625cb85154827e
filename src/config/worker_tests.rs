use super::*;

#[test]
fn defaults_without_a_file() {
    figment::Jail::expect_with(|_jail| {
        let c = load(None).map_err(|e| e.to_string())?;
        assert_eq!(c.rest.listen.to_string(), DEFAULT_REST_LISTEN);
        assert_eq!(c.kafka.bootstrap_servers, DEFAULT_BOOTSTRAP_SERVERS);
        assert_eq!(c.worker.group_id, DEFAULT_GROUP_ID);
        assert_eq!(c.worker.state_dir, PathBuf::from(DEFAULT_STATE_DIR));
        assert_eq!(c.worker.offset_storage_topic, "pgcdc-offsets");
        assert_eq!(c.worker.offset_storage_partitions, 1);
        assert_eq!(c.log.format, LogFormat::Text);
        Ok(())
    });
}

#[test]
fn file_and_env_override_with_env_winning() {
    figment::Jail::expect_with(|jail| {
        jail.create_file(
            "w.toml",
            r#"
            [rest]
            listen = "0.0.0.0:9999"
            [kafka]
            bootstrap_servers = "file:9092"
            [kafka.options]
            "linger.ms" = "5"
            [worker]
            connectors_dir = "conns"
            [log]
            format = "json"
            "#,
        )?;
        jail.set_env("PGCDC_KAFKA__BOOTSTRAP_SERVERS", "env-broker:9092");
        jail.set_env("PGCDC_WORKER__GROUP_ID", "g1");
        jail.set_env("PGCDC_CONFIG", "ignored-by-the-loader");
        let c = load(Some(Path::new("w.toml"))).map_err(|e| e.to_string())?;
        assert_eq!(c.kafka.bootstrap_servers, "env-broker:9092");
        assert_eq!(c.worker.group_id, "g1");
        assert_eq!(c.rest.listen.port(), 9999);
        assert_eq!(c.kafka.options.get("linger.ms").map(String::as_str), Some("5"));
        assert_eq!(c.worker.connectors_dir, Some(PathBuf::from("conns")));
        assert_eq!(c.log.format, LogFormat::Json);
        Ok(())
    });
}

#[test]
fn kafka_options_are_checked_by_librdkafka_at_load() {
    let mut c = WorkerConfig::default();
    c.kafka.options.insert("linger.ms".into(), "5".into());
    assert!(c.validate().is_ok());
    c.kafka.options.insert("no.such.option".into(), "1".into());
    let err = c.validate().unwrap_err().to_string();
    assert!(err.contains("kafka.options.\"no.such.option\""), "{err}");
    let mut c = WorkerConfig::default();
    c.kafka.options.insert("acks".into(), "sometimes".into());
    let err = c.validate().unwrap_err().to_string();
    assert!(err.contains("kafka.options.\"acks\"") && err.contains("librdkafka"), "{err}");
    // A rejected secret's value is never quoted.
    let mut c = WorkerConfig::default();
    c.kafka.options.insert("sasl.password.bogus".into(), "hunter2".into());
    let err = c.validate().unwrap_err().to_string();
    assert!(err.contains("sasl.password.bogus") && !err.contains("hunter2"), "{err}");
}

#[test]
fn config_providers_from_file_and_env_are_off_by_default() {
    assert_eq!(WorkerConfig::default().config_providers, ProviderPolicy::default());
    figment::Jail::expect_with(|jail| {
        jail.create_file(
            "w.toml",
            r#"
            [config_providers.file]
            allowed_paths = ["/run/secrets"]
            "#,
        )?;
        jail.set_env("PGCDC_CONFIG_PROVIDERS__ENV__ALLOWED_NAMES", "[DB_PASSWORD, PGCDC_SECRET_*]");
        let c = load(Some(Path::new("w.toml"))).map_err(|e| e.to_string())?;
        let file = c.config_providers.file.as_ref().map(|f| f.allowed_paths.clone());
        assert_eq!(file, Some(vec![PathBuf::from("/run/secrets")]));
        let env = c.config_providers.env.as_ref().map(|e| e.allowed_names.clone());
        assert_eq!(env, Some(vec!["DB_PASSWORD".to_owned(), "PGCDC_SECRET_*".to_owned()]));
        jail.create_file("bad.toml", "[config_providers.file]\nallowed_paths = []\n")?;
        let err = load(Some(Path::new("bad.toml"))).unwrap_err().to_string();
        assert!(err.contains("config_providers.file.allowed_paths"), "{err}");
        Ok(())
    });
}

#[test]
fn a_non_loopback_listener_without_auth_warns() {
    let mut c = WorkerConfig::default();
    assert!(c.startup_warnings().is_empty(), "loopback default");
    c.rest.listen = "0.0.0.0:8083".parse().unwrap();
    let warnings = c.startup_warnings();
    assert!(warnings.len() == 1 && warnings[0].contains("[rest.auth]"), "{warnings:?}");
    c.rest.auth = Some(RestAuth::Bearer { token: Secret::new("t") });
    assert!(c.startup_warnings().is_empty());
}

#[test]
fn unknown_key_error_names_the_key() {
    figment::Jail::expect_with(|jail| {
        jail.create_file("w.toml", "[kafka]\nbootstrap_server = \"x:1\"\n")?;
        let err = load(Some(Path::new("w.toml"))).unwrap_err();
        let ConfigError::Load(inner) = &err else { panic!("expected a load error, got {err}") };
        assert!(inner.to_string().contains("bootstrap_server"), "{inner}");
        jail.create_file("w2.toml", "[restt]\nlisten = \"127.0.0.1:1\"\n")?;
        let err = load(Some(Path::new("w2.toml"))).unwrap_err();
        let ConfigError::Load(inner) = &err else { panic!("expected a load error, got {err}") };
        assert!(inner.to_string().contains("restt"), "{inner}");
        Ok(())
    });
}

#[test]
fn unknown_env_key_in_a_known_section_is_an_error() {
    figment::Jail::expect_with(|jail| {
        jail.set_env("PGCDC_WORKER__STATEDIR", "x");
        let err = load(None).unwrap_err();
        let ConfigError::Load(inner) = &err else { panic!("expected a load error, got {err}") };
        assert!(inner.to_string().contains("statedir"), "{inner}");
        Ok(())
    });
}

#[test]
fn validate_names_field_and_constraint() {
    let mut c = WorkerConfig::default();
    c.validate().unwrap();
    c.kafka.options.insert("transactional.id".into(), "x".into());
    let err = c.validate().unwrap_err().to_string();
    assert!(err.contains("kafka.options.\"transactional.id\""), "{err}");
    let mut c = WorkerConfig::default();
    c.worker.group_id = "has space".into();
    assert!(c.validate().unwrap_err().to_string().contains("worker.group_id"));
    let mut c = WorkerConfig::default();
    c.kafka.bootstrap_servers = "nohostport".into();
    assert!(c.validate().unwrap_err().to_string().contains("kafka.bootstrap_servers"));
    let mut c = WorkerConfig::default();
    c.worker.offset_storage_topic = "bad topic".into();
    assert!(c.validate().unwrap_err().to_string().contains("worker.offset_storage_topic"));
    let mut c = WorkerConfig::default();
    c.worker.offset_storage_partitions = 0;
    assert!(c.validate().unwrap_err().to_string().contains("worker.offset_storage_partitions"));
    let mut c = WorkerConfig::default();
    c.log.level = "info,[".into();
    assert!(c.validate().unwrap_err().to_string().contains("log.level"));
}

#[cfg(unix)]
#[test]
fn spill_dir_others_could_tamper_with_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let mut c = WorkerConfig::default();
    c.worker.spill_dir = Some(tmp.path().to_owned());
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    c.validate().unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let err = c.validate().unwrap_err().to_string();
    assert!(err.contains("worker.spill_dir") && err.contains("sticky"), "{err}");
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    c.validate().unwrap();
    c.worker.spill_dir = Some(tmp.path().join("missing"));
    assert!(c.validate().unwrap_err().to_string().contains("worker.spill_dir"));
}

#[test]
fn rest_auth_from_file_and_env() {
    figment::Jail::expect_with(|jail| {
        jail.create_file("w.toml", "[rest.auth]\ntype = \"basic\"\nuser = \"admin\"\npassword = \"s3cret\"\n")?;
        let c = load(Some(Path::new("w.toml"))).map_err(|e| e.to_string())?;
        let Some(RestAuth::Basic { user, password }) = &c.rest.auth else { panic!("basic auth expected: {:?}", c.rest.auth) };
        assert_eq!((user.as_str(), password.expose()), ("admin", "s3cret"));
        assert!(!format!("{c:?}").contains("s3cret"));
        jail.set_env("PGCDC_REST__AUTH__TYPE", "bearer");
        jail.set_env("PGCDC_REST__AUTH__TOKEN", "tok");
        let c = load(None).map_err(|e| e.to_string())?;
        assert!(matches!(&c.rest.auth, Some(RestAuth::Bearer { token }) if token.expose() == "tok"));
        jail.set_env("PGCDC_REST__AUTH__TOKEN", " ");
        assert!(load(None).unwrap_err().to_string().contains("rest.auth.token"));
        Ok(())
    });
}

#[test]
fn missing_explicit_file_is_an_error() {
    figment::Jail::expect_with(|_jail| {
        assert!(load(Some(Path::new("nope.toml"))).is_err());
        Ok(())
    });
}

#[test]
fn distributed_example_loads_and_names_worker_by_advertised_url() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/distributed.toml");
    figment::Jail::expect_with(|jail| {
        jail.set_env("PGCDC_REST__ADVERTISED_URL", "http://pgcdc-1.pgcdc:8083/");
        let c = load(Some(&path)).map_err(|e| format!("{e}: {:?}", std::error::Error::source(&e)))?;
        assert_eq!(c.worker.mode, WorkerMode::Distributed);
        assert_eq!(c.worker.config_storage_topic, DEFAULT_CONFIG_STORAGE_TOPIC);
        assert_eq!(c.worker.status_storage_topic, DEFAULT_STATUS_STORAGE_TOPIC);
        assert_eq!(c.worker_id(), "pgcdc-1.pgcdc:8083");
        assert_eq!(c.advertised_url(), "http://pgcdc-1.pgcdc:8083");
        Ok(())
    });
}

#[test]
fn distributed_constraints_name_the_key() {
    let base = || {
        let mut c = WorkerConfig::default();
        c.worker.mode = WorkerMode::Distributed;
        c
    };
    base().validate().unwrap();
    assert_eq!(base().advertised_url(), "http://127.0.0.1:8083");
    type Change = Box<dyn Fn(&mut WorkerConfig)>;
    let cases: Vec<(&str, Change)> = vec![
        ("worker.config_storage_topic", Box::new(|c| c.worker.config_storage_topic = c.worker.offset_storage_topic.clone())),
        ("worker.status_storage_topic", Box::new(|c| c.worker.status_storage_topic = "bad topic".into())),
        ("worker.connectors_dir", Box::new(|c| c.worker.connectors_dir = Some("conns".into()))),
        ("worker.session_timeout_ms", Box::new(|c| c.worker.session_timeout_ms = 10)),
        ("worker.heartbeat_interval_ms", Box::new(|c| c.worker.heartbeat_interval_ms = 5_000)),
        ("worker.rebalance_timeout_ms", Box::new(|c| c.worker.rebalance_timeout_ms = 1_000)),
        ("rest.advertised_url", Box::new(|c| c.rest.advertised_url = Some("pgcdc-1:8083".into()))),
        ("rest.advertised_url", Box::new(|c| c.rest.advertised_url = Some("http://h:1/path".into()))),
        ("rest.advertised_url", Box::new(|c| c.rest.listen = "0.0.0.0:8083".parse().unwrap())),
    ];
    for (field, change) in cases {
        let mut c = base();
        change(&mut c);
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains(field), "{field}: {err}");
    }
    // Standalone ignores the distributed-only keys.
    let mut c = WorkerConfig::default();
    c.worker.heartbeat_interval_ms = 50_000;
    c.worker.connectors_dir = Some("conns".into());
    c.validate().unwrap();
}

#[test]
fn mode_from_env_and_unknown_mode_is_an_error() {
    figment::Jail::expect_with(|jail| {
        jail.set_env("PGCDC_WORKER__MODE", "distributed");
        assert_eq!(load(None).map_err(|e| e.to_string())?.worker.mode, WorkerMode::Distributed);
        jail.set_env("PGCDC_WORKER__MODE", "clustered");
        assert!(load(None).is_err());
        Ok(())
    });
}

#[test]
fn example_config_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/pgcdc.toml");
    figment::Jail::expect_with(|_jail| {
        let c = load(Some(&path)).map_err(|e| format!("{e}: {:?}", std::error::Error::source(&e)))?;
        assert_eq!(c.rest.listen.to_string(), DEFAULT_REST_LISTEN);
        Ok(())
    });
}

#[test]
fn env_and_file_references_in_the_worker_file_resolve_and_stay_secret() {
    figment::Jail::expect_with(|jail| {
        jail.create_file("kafka.properties", "password = file-s3cret\n")?;
        let props = jail.directory().join("kafka.properties");
        jail.create_file(
            "w.toml",
            &format!(
                r#"
                [rest.auth]
                type = "bearer"
                token = "${{env:PGCDC_TEST_REST_TOKEN}}"
                [kafka]
                bootstrap_servers = "${{env:PGCDC_TEST_BROKER}}:9092"
                [kafka.options]
                "security.protocol" = "SASL_SSL"
                "sasl.mechanism" = "SCRAM-SHA-512"
                "sasl.jaas.config" = 'org.apache.kafka.common.security.scram.ScramLoginModule required username="pgcdc" password="${{file:{}:password}}";'
                "#,
                props.display()
            ),
        )?;
        jail.set_env("PGCDC_TEST_REST_TOKEN", "env-t0ken");
        jail.set_env("PGCDC_TEST_BROKER", "broker-1");
        // The environment's own PGCDC_* values are resolved too.
        jail.set_env("PGCDC_WORKER__GROUP_ID", "${env:PGCDC_TEST_BROKER}");
        let c = load(Some(Path::new("w.toml"))).map_err(|e| e.to_string())?;
        assert!(matches!(&c.rest.auth, Some(RestAuth::Bearer { token }) if token.expose() == "env-t0ken"));
        assert_eq!(c.kafka.bootstrap_servers, "broker-1:9092");
        assert_eq!(c.worker.group_id, "broker-1");
        let security = c.kafka.client_settings();
        let sasl = security.security().map_err(|e| e.to_string())?.sasl.clone().expect("sasl");
        assert_eq!(
            sasl.credentials,
            crate::kafka::security::Credentials::Password { username: "pgcdc".into(), password: crate::secret::Secret::new("file-s3cret") }
        );
        let shown = format!("{c:?}");
        assert!(!shown.contains("file-s3cret") && !shown.contains("env-t0ken"), "{shown}");
        assert!(shown.contains("security.protocol"), "{shown}");
        Ok(())
    });
}

#[test]
fn a_reference_that_cannot_be_resolved_names_the_field() {
    figment::Jail::expect_with(|jail| {
        jail.create_file("w.toml", "[kafka.options]\n\"sasl.jaas.config\" = \"${env:PGCDC_TEST_SURELY_UNSET_VAR}\"\n")?;
        let err = load(Some(Path::new("w.toml"))).unwrap_err().to_string();
        assert!(err.contains("kafka.options.\"sasl.jaas.config\"") && err.contains("PGCDC_TEST_SURELY_UNSET_VAR is not set"), "{err}");
        jail.create_file("w.toml", "[rest.auth]\ntype = \"basic\"\nuser = \"a\"\npassword = \"${file:/nonexistent/p.properties:pw}\"\n")?;
        let err = load(Some(Path::new("w.toml"))).unwrap_err().to_string();
        assert!(err.contains("rest.auth.password") && err.contains("cannot open"), "{err}");
        Ok(())
    });
}

/// The compose stack's worker configuration loads and validates.
#[test]
fn compose_stack_worker_config_loads() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/compose/pgcdc.toml");
    let config = WorkerConfig::load(Some(&path)).unwrap();
    config.validate().unwrap();
    assert_eq!(config.kafka.bootstrap_servers, "kafka:9092");
    assert_eq!(config.worker.connectors_dir.as_deref(), Some(std::path::Path::new("/etc/pgcdc/connectors")));
}

/// The Kubernetes example overlay's worker configuration loads, its SASL password read
/// from the mounted secret through `${file:}` (the secret's directory replaced by a temp one).
#[test]
fn kubernetes_overlay_worker_config_loads_with_its_secret() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let secrets = tempfile::tempdir().unwrap();
    std::fs::write(secrets.path().join("kafka.properties"), "password=s3cret-kafka\n").unwrap();
    let text = std::fs::read_to_string(root.join("deploy/kubernetes/overlays/example/pgcdc.toml"))
        .unwrap()
        .replace("/run/secrets/pgcdc", &secrets.path().display().to_string())
        // validate() checks the spill directory: the pod's init container makes it.
        .replace("/var/lib/pgcdc/spill/pgcdc", &secrets.path().display().to_string());
    let file = secrets.path().join("pgcdc.toml");
    std::fs::write(&file, text).unwrap();
    let config = WorkerConfig::load(Some(&file)).unwrap();
    config.validate().unwrap();
    let debug = format!("{config:?}");
    assert!(!debug.contains("s3cret-kafka"), "the resolved password is never printed: {debug}");
    assert_eq!(config.kafka.bootstrap_servers, "kafka-bootstrap.kafka.svc:9093");
}
