//! The terraform command line as the guard may store and show it: the subcommand and the option
//! names, never a value. `-var password=…`, `-var-file=secrets.tfvars`, `-backend-config=…`
//! and positional arguments can all carry secrets, and the lease record ends up in DynamoDB or
//! S3, in `lock status` and in CI logs. Pure.

/// What replaces every value.
pub const ELIDED: &str = "…";

/// `terraform <args>` with the subcommand and option names kept and every value replaced by
/// [`ELIDED`]: `-var=…`, `-chdir=…`; a positional argument after the subcommand (a plan file,
/// a `-var`'s separate `name=value`, a resource address) becomes `…` too. Conservative by
/// design: a value that could have been kept is elided rather than a secret kept.
pub fn redacted_command(args: &[String]) -> String {
    let mut words = vec!["terraform".to_string()];
    let mut subcommand_seen = false;
    for arg in args {
        let word = if let Some(name) = option_name(arg) {
            if arg.len() > name.len() {
                format!("{name}={ELIDED}")
            } else {
                name.to_string()
            }
        } else if !subcommand_seen && is_plain_word(arg) {
            subcommand_seen = true;
            arg.clone()
        } else {
            ELIDED.to_string()
        };
        words.push(word);
    }
    words.join(" ")
}

/// The `-name` part of an option (`-var=x=1` → `-var`); `None` for a positional argument.
fn option_name(arg: &str) -> Option<&str> {
    if !arg.starts_with('-') || arg == "-" {
        return None;
    }
    let name = arg.split_once('=').map_or(arg, |(name, _)| name);
    // A name is dashes and an identifier; anything else (`-1`, `-x y`) is elided as a value.
    let bare = name.trim_start_matches('-');
    let valid = bare.starts_with(|c: char| c.is_ascii_alphabetic())
        && bare
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    valid.then_some(name)
}

/// A subcommand is a bare lowercase word (`apply`, `plan`, `force-unlock`).
fn is_plain_word(arg: &str) -> bool {
    arg.starts_with(|c: char| c.is_ascii_lowercase())
        && arg
            .chars()
            .all(|c| c.is_ascii_lowercase() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn keeps_subcommand_and_option_names_and_elides_every_value() {
        let command = redacted_command(&args(&[
            "-chdir=infra",
            "apply",
            "-auto-approve",
            "-var",
            "password=hunter2",
            "-var=token=s3cr3t",
            "--var-file=prod.tfvars",
            "-backend-config=secret_key=abc",
            "-lock-timeout=5m",
            "saved.tfplan",
        ]));
        assert_eq!(
            command,
            "terraform -chdir=… apply -auto-approve -var … -var=… --var-file=… \
             -backend-config=… -lock-timeout=… …"
        );
    }

    #[test]
    fn only_the_first_plain_word_is_the_subcommand() {
        assert_eq!(
            redacted_command(&args(&["state", "rm", "aws_db_instance.main"])),
            "terraform state … …"
        );
        assert_eq!(redacted_command(&args(&["-version"])), "terraform -version");
        assert_eq!(redacted_command(&[]), "terraform");
        // A "subcommand" that is not a plain word may be a value: elided.
        assert_eq!(redacted_command(&args(&["Pa55word"])), "terraform …");
        assert_eq!(redacted_command(&args(&["-", "-1"])), "terraform … …");
    }

    proptest! {
        /// Whatever the command line, no value of 3+ characters that is not an option name
        /// or the subcommand survives.
        #[test]
        fn no_value_survives(
            values in proptest::collection::vec("[A-Za-z0-9=./_-]{3,12}", 0..8),
            secret in "[A-Z][a-z0-9]{7,12}",
        ) {
            let mut list: Vec<String> = vec!["apply".into()];
            for value in &values {
                list.push(format!("-var={value}"));
                list.push(value.clone());
            }
            list.push(format!("-var=password={secret}"));
            list.push(format!("password={secret}"));
            list.push(format!("-backend-config={secret}"));
            list.push(secret.clone());
            let command = redacted_command(&list);
            prop_assert!(!command.contains(&secret), "{}", command);
        }
    }
}
