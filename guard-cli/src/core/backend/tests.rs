use super::*;

fn tf(contents: &str) -> Vec<(String, String)> {
    vec![("main.tf".to_string(), contents.to_string())]
}

#[test]
fn init_state_with_dynamodb_and_endpoints() {
    let json = r#"{"version":3,"backend":{"type":"s3","config":{
            "bucket":"tfstate","key":"app/terraform.tfstate","region":"us-east-1",
            "dynamodb_table":"locks","use_lockfile":null,"encrypt":true,
            "endpoints":{"s3":"http://127.0.0.1:5000","dynamodb":"http://127.0.0.1:5001"},
            "use_path_style":true},"hash":1}}"#;
    let Some(Backend::S3(s3)) = from_init_state("x", json).unwrap() else {
        panic!()
    };
    assert_eq!(s3.bucket, "tfstate");
    assert_eq!(s3.dynamodb_table.as_deref(), Some("locks"));
    assert!(!s3.use_lockfile && s3.encrypt && s3.use_path_style);
    assert_eq!(s3.s3_endpoint.as_deref(), Some("http://127.0.0.1:5000"));
    assert_eq!(
        s3.dynamodb_endpoint.as_deref(),
        Some("http://127.0.0.1:5001")
    );
    assert_eq!(
        s3.lock_id(&s3.state_key("default")),
        "tfstate/app/terraform.tfstate"
    );
    assert_eq!(s3.digest_id("k"), "tfstate/k-md5");
}

#[test]
fn init_state_without_backend_is_none() {
    assert_eq!(from_init_state("x", r#"{"version":3}"#).unwrap(), None);
}

#[test]
fn malformed_init_state_is_a_clear_error() {
    let error = from_init_state("x", "{not json").unwrap_err().to_string();
    assert!(error.contains("not valid JSON"), "{error}");
    let error = from_init_state("x", r#"{"backend":{"config":{}}}"#)
        .unwrap_err()
        .to_string();
    assert!(error.contains("backend.type"), "{error}");
}

#[test]
fn hcl_backend_block_with_lockfile() {
    let backend = from_tf_files(&tf(r#"
            terraform {
              required_version = ">= 1.10"
              backend "s3" {
                bucket = "b"
                key = "k"
                use_lockfile = true
                endpoints = { s3 = "http://127.0.0.1:1" }
              }
            }
            resource "terraform_data" "x" {}
        "#))
    .unwrap();
    let Backend::S3(s3) = &backend else {
        panic!("{backend:?}")
    };
    assert!(s3.use_lockfile);
    assert_eq!(s3.s3_endpoint.as_deref(), Some("http://127.0.0.1:1"));
    assert_eq!(
        locking(&backend, false),
        Ok(Locking::S3 {
            dynamodb: false,
            lockfile: true
        })
    );
    assert_eq!(warnings(s3).len(), 1);
}

#[test]
fn no_backend_block_is_local_and_refused() {
    let backend = from_tf_files(&tf(r#"resource "terraform_data" "x" {}"#)).unwrap();
    assert_eq!(backend, Backend::Local);
    let refusal = locking(&backend, false).unwrap_err();
    assert!(refusal.fix.contains("--allow-unlocked"));
    assert_eq!(locking(&backend, true), Ok(Locking::Unlocked));
}

#[test]
fn s3_without_locking_is_refused_with_a_fix() {
    let backend = from_tf_files(&tf(
        "terraform {\n backend \"s3\" {\n bucket = \"b\"\n key = \"k\"\n }\n}",
    ))
    .unwrap();
    let refusal = locking(&backend, false).unwrap_err();
    assert!(refusal.reason.contains("neither"), "{}", refusal.reason);
    assert!(refusal.fix.contains("use_lockfile = true"));
}

#[test]
fn malformed_backend_blocks_are_clear_errors() {
    let error = from_tf_files(&tf("terraform {\n backend \"s3\" {\n key = \"k\"\n }\n}"))
        .unwrap_err()
        .to_string();
    assert!(error.contains("`bucket` is required"), "{error}");
    let error = from_tf_files(&tf(
        "terraform {\n backend \"s3\" {\n bucket = 3\n key = \"k\"\n }\n}",
    ))
    .unwrap_err()
    .to_string();
    assert!(error.contains("must be a string"), "{error}");
    let error = from_tf_files(&tf("terraform { backend \"s3\" {"))
        .unwrap_err()
        .to_string();
    assert!(error.contains("not valid HCL"), "{error}");
}

#[test]
fn two_backend_blocks_are_refused() {
    let files = vec![
        (
            "a.tf".to_string(),
            "terraform {\n backend \"s3\" {\n bucket = \"b\"\n key = \"k\"\n }\n}".to_string(),
        ),
        (
            "b.tf".to_string(),
            "terraform {\n backend \"local\" {}\n}".to_string(),
        ),
    ];
    assert!(matches!(
        from_tf_files(&files),
        Err(BackendError::Duplicate { .. })
    ));
}

fn s3(contents: &str) -> S3Backend {
    match from_tf_files(&tf(contents)).unwrap() {
        Backend::S3(s3) => s3,
        other => panic!("{other:?}"),
    }
}

#[test]
fn credentials_profile_and_assume_role_are_read() {
    let backend = s3(r#"
            terraform {
              backend "s3" {
                bucket = "b"
                key = "k"
                profile = "deploy"
                shared_config_files = ["/etc/aws/config"]
                access_key = "AKIAEXAMPLE"
                secret_key = "s3cr3t-key"
                assume_role = {
                  role_arn = "arn:aws:iam::123456789012:role/deployer"
                  session_name = "ci"
                  external_id = "ext"
                  duration = "1h"
                  policy_arns = ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
                  tags = { team = "web" }
                }
                endpoints = { sts = "http://127.0.0.1:1" }
              }
            }"#);
    assert_eq!(backend.credentials.profile.as_deref(), Some("deploy"));
    assert_eq!(backend.credentials.shared_config_files, ["/etc/aws/config"]);
    assert_eq!(
        backend.credentials.secret_key,
        Some(Secret("s3cr3t-key".into()))
    );
    let role = backend.assume_role.clone().unwrap();
    assert_eq!(role.role_arn, "arn:aws:iam::123456789012:role/deployer");
    assert_eq!(role.session_name.as_deref(), Some("ci"));
    assert_eq!(role.external_id.as_deref(), Some("ext"));
    assert_eq!(role.duration, Some(Duration::from_secs(3600)));
    assert_eq!(role.policy_arns.len(), 1);
    assert_eq!(role.tags["team"], "web");
    assert_eq!(backend.sts_endpoint.as_deref(), Some("http://127.0.0.1:1"));
    assert!(refuse_unsupported(&backend, |_| None).is_ok());
    // Credentials never reach a log through Debug.
    let debug = format!("{backend:?}");
    assert!(
        !debug.contains("s3cr3t-key") && debug.contains("(sensitive)"),
        "{debug}"
    );
}

#[test]
fn init_state_with_legacy_role_arn_and_nulls() {
    let json = r#"{"version":3,"backend":{"type":"s3","config":{
            "bucket":"b","key":"k","role_arn":"arn:aws:iam::1:role/r","session_name":null,
            "assume_role":null,"sse_customer_key":null,"profile":null,
            "shared_config_files":null,"assume_role_with_web_identity":null}}}"#;
    let Some(Backend::S3(backend)) = from_init_state("x", json).unwrap() else {
        panic!()
    };
    assert_eq!(
        backend.assume_role.map(|r| r.role_arn).as_deref(),
        Some("arn:aws:iam::1:role/r")
    );
    assert!(backend.unsupported.is_empty());
}

#[test]
fn settings_the_guard_cannot_honour_are_refused_by_name() {
    let cases = [
        (r#"sse_customer_key = "a2V5""#, "`sse_customer_key`"),
        (
            r#"assume_role = { role_arn = "arn:r", source_identity = "me" }"#,
            "`assume_role.source_identity`",
        ),
        (
            r#"assume_role_with_web_identity = { role_arn = "arn:r" }"#,
            "`assume_role_with_web_identity`",
        ),
        (r#"custom_ca_bundle = "/ca.pem""#, "`custom_ca_bundle`"),
    ];
    for (line, named) in cases {
        let backend = s3(&format!(
            "terraform {{\n backend \"s3\" {{\n bucket = \"b\"\n key = \"k\"\n {line}\n }}\n}}"
        ));
        let error = refuse_unsupported(&backend, |_| None)
            .unwrap_err()
            .to_string();
        assert!(error.contains(named), "{line}: {error}");
        assert!(!error.contains("a2V5"), "{error}");
    }
    let plain = s3("terraform {\n backend \"s3\" {\n bucket = \"b\"\n key = \"k\"\n }\n}");
    let error = refuse_unsupported(&plain, |name| {
        (name == "AWS_SSE_CUSTOMER_KEY").then(|| "a2V5".to_string())
    })
    .unwrap_err()
    .to_string();
    assert!(error.contains("AWS_SSE_CUSTOMER_KEY"), "{error}");
    assert!(refuse_unsupported(&plain, |_| Some(String::new())).is_ok());
}

fn with_lines(lines: &str) -> String {
    format!("terraform {{\n backend \"s3\" {{\n bucket = \"b\"\n key = \"k\"\n {lines}\n }}\n}}")
}

#[test]
fn legacy_top_level_assume_role_settings_are_read() {
    let backend = s3(&with_lines(
        r#"role_arn = "arn:aws:iam::1:role/r"
            assume_role_duration_seconds = 900
            assume_role_policy = "{}"
            assume_role_policy_arns = ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
            assume_role_tags = { team = "web" }"#,
    ));
    let role = backend.assume_role.clone().unwrap();
    assert_eq!(role.duration, Some(Duration::from_secs(900)));
    assert_eq!(role.policy.as_deref(), Some("{}"));
    assert_eq!(role.policy_arns.len(), 1);
    assert_eq!(role.tags["team"], "web");
    assert!(refuse_unsupported(&backend, |_| None).is_ok());
    // As recorded by `terraform init` (numbers may come back as strings).
    let json = r#"{"backend":{"type":"s3","config":{"bucket":"b","key":"k",
            "role_arn":"arn:r","assume_role_duration_seconds":"60","assume_role_tags":null}}}"#;
    let Some(Backend::S3(backend)) = from_init_state("x", json).unwrap() else {
        panic!()
    };
    assert_eq!(
        backend.assume_role.unwrap().duration,
        Some(Duration::from_secs(60))
    );
}

#[test]
fn more_settings_the_guard_cannot_honour_are_refused_by_name() {
    for (line, named) in [
        (
            r#"role_arn = "arn:r"
                assume_role_transitive_tag_keys = ["team"]"#,
            "`assume_role_transitive_tag_keys`",
        ),
        (r#"http_proxy = "http://proxy:3128""#, "`http_proxy`"),
        (r#"https_proxy = "http://proxy:3128""#, "`https_proxy`"),
        ("insecure = true", "`insecure`"),
    ] {
        let backend = s3(&with_lines(line));
        let error = refuse_unsupported(&backend, |_| None)
            .unwrap_err()
            .to_string();
        assert!(error.contains(named), "{line}: {error}");
    }
    // Harmless for what the guard does: accepted.
    for line in [
        "insecure = false",
        r#"no_proxy = "localhost""#,
        "skip_s3_checksum = true",
        "skip_credentials_validation = true",
        r#"sts_region = "eu-west-1""#,
    ] {
        let backend = s3(&with_lines(line));
        assert!(refuse_unsupported(&backend, |_| None).is_ok(), "{line}");
    }
}

#[test]
fn half_given_static_keys_are_refused() {
    for (line, named) in [
        (r#"access_key = "AKIAEXAMPLE""#, "`secret_key`"),
        (r#"secret_key = "s3cr3t-key""#, "`access_key`"),
    ] {
        let error = from_tf_files(&tf(&with_lines(line)))
            .unwrap_err()
            .to_string();
        assert!(error.contains(named), "{line}: {error}");
        assert!(!error.contains("s3cr3t-key"), "{error}");
    }
    let keys = s3(&with_lines(
        r#"access_key = "AKIAEXAMPLE"
            secret_key = "s3cr3t-key"
            profile = "deploy""#,
    ));
    assert!(matches!(
        keys.credentials.source(),
        Ok(CredentialSource::Static { token: None, .. })
    ));
    let profile = s3(&with_lines(r#"profile = "deploy""#));
    assert_eq!(
        profile.credentials.source(),
        Ok(CredentialSource::Profile("deploy"))
    );
    let plain = s3(&with_lines(""));
    assert_eq!(
        plain.credentials.source(),
        Ok(CredentialSource::DefaultChain)
    );
}

#[test]
fn assume_role_duration_is_read_as_terraform_reads_it() {
    let backend = s3(r#"
            terraform {
              backend "s3" {
                bucket = "b"
                key = "k"
                assume_role = { role_arn = "r", duration = "1.5h" }
              }
            }"#);
    let role = backend.assume_role.unwrap();
    assert_eq!(role.duration, Some(Duration::from_secs(5400)));
}

#[test]
fn malformed_assume_role_is_a_clear_error() {
    for (line, message) in [
        (
            r#"assume_role = { session_name = "x" }"#,
            "assume_role.role_arn",
        ),
        (
            r#"assume_role = { role_arn = "r", duration = "soon" }"#,
            "duration",
        ),
        // Go's grammar, as Terraform reads it: humantime's `1day` is not a duration there.
        (
            r#"assume_role = { role_arn = "r", duration = "1day" }"#,
            "units: ns, us, ms, s, m, h",
        ),
        (r#"shared_config_files = "one""#, "shared_config_files"),
    ] {
        let error = from_tf_files(&tf(&format!(
            "terraform {{\n backend \"s3\" {{\n bucket = \"b\"\n key = \"k\"\n {line}\n }}\n}}"
        )))
        .unwrap_err()
        .to_string();
        assert!(error.contains(message), "{line}: {error}");
    }
}

#[test]
fn workspace_keys_follow_terraform() {
    let s3 = S3Backend {
        bucket: "b".into(),
        key: "k.tfstate".into(),
        ..Default::default()
    };
    assert_eq!(s3.state_key("default"), "k.tfstate");
    assert_eq!(s3.state_key("staging"), "env:/staging/k.tfstate");
}
