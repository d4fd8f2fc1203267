//! Who can run code on the robot: `codeact node --ros` serves
//! `/codeact/execute` and `/codeact/run_task` to every node that ROS
//! discovery reaches. Beyond this machine, that is anyone on the robot's
//! network, so the node starts there only when the operator has chosen: DDS
//! security enforced (SROS2), or the exposure accepted with
//! `--insecure-network`. Plain logic over the environment, tested without ROS.

use std::path::{Path, PathBuf};

/// How far ROS discovery reaches, from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// Only this machine.
    ThisMachine,
    /// Other machines: why (the variable and its value).
    Beyond(String),
}

/// What the node runs under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exposure {
    /// Discovery stays on this machine.
    Local,
    /// DDS security enforced, with this keystore and enclave.
    Secured {
        /// `ROS_SECURITY_KEYSTORE`.
        keystore: PathBuf,
        /// `ROS_SECURITY_ENCLAVE_OVERRIDE`.
        enclave: String,
    },
    /// Reachable from the network without security: the operator said so.
    Insecure {
        /// How far discovery reaches.
        reach: String,
    },
}

impl Exposure {
    /// One line for the log and the recording's metadata.
    pub fn describe(&self) -> String {
        match self {
            Exposure::Local => "discovery on this machine only".into(),
            Exposure::Secured { keystore, enclave } => format!(
                "DDS security enforced (keystore {}, enclave {enclave})",
                keystore.display()
            ),
            Exposure::Insecure { reach } => format!(
                "--insecure-network: any node that discovery reaches ({reach}) can run code on this robot"
            ),
        }
    }
}

/// Why the node may not start as configured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetworkError {
    /// Discovery reaches other machines and nothing was chosen.
    #[error("ROS discovery reaches beyond this machine ({0}), so every node there could call this node's execute and run_task services and run code on the robot. Choose one: keep discovery on this machine (ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST), enforce DDS security (ROS_SECURITY_ENABLE=true, ROS_SECURITY_STRATEGY=Enforce, ROS_SECURITY_KEYSTORE and ROS_SECURITY_ENCLAVE_OVERRIDE; see docs/ros.md), or accept the exposure with --insecure-network")]
    Exposed(String),
    /// Security was asked for but cannot be in force as set.
    #[error("DDS security is asked for, but {0}; see docs/ros.md (SROS2 keys)")]
    Security(String),
}

/// The variable `k` of `env`, when it is set to something not blank.
fn set(env: &dyn Fn(&str) -> Option<String>, k: &str) -> Option<String> {
    env(k)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// How far discovery reaches, from the variables ROS 2 Jazzy reads.
pub fn reach(env: &dyn Fn(&str) -> Option<String>) -> Reach {
    let var = |k: &str| set(env, k);
    if let Some(peers) = var("ROS_STATIC_PEERS") {
        return Reach::Beyond(format!("ROS_STATIC_PEERS={peers}"));
    }
    match var("ROS_AUTOMATIC_DISCOVERY_RANGE").as_deref() {
        Some("LOCALHOST") | Some("OFF") => Reach::ThisMachine,
        Some(other) => Reach::Beyond(format!("ROS_AUTOMATIC_DISCOVERY_RANGE={other}")),
        // The deprecated switch still counts where the range is not set.
        None if var("ROS_LOCALHOST_ONLY").as_deref() == Some("1") => Reach::ThisMachine,
        None => Reach::Beyond("ROS_AUTOMATIC_DISCOVERY_RANGE unset, which means SUBNET".into()),
    }
}

/// What the node runs under, or why it may not start: local discovery,
/// enforced security (keystore and enclave checked), or `insecure` chosen.
pub fn choose(
    env: &dyn Fn(&str) -> Option<String>,
    insecure: bool,
) -> Result<Exposure, NetworkError> {
    let reach = match reach(env) {
        Reach::ThisMachine => return Ok(Exposure::Local),
        Reach::Beyond(why) => why,
    };
    let var = |k: &str| set(env, k);
    let asked = var("ROS_SECURITY_ENABLE").is_some() || var("ROS_SECURITY_STRATEGY").is_some();
    if asked {
        return secured(&var).map_err(NetworkError::Security);
    }
    if insecure {
        return Ok(Exposure::Insecure { reach });
    }
    Err(NetworkError::Exposed(reach))
}

/// Enforced security as the variables set it, or what is missing.
fn secured(var: &dyn Fn(&str) -> Option<String>) -> Result<Exposure, String> {
    if var("ROS_SECURITY_ENABLE").as_deref() != Some("true") {
        return Err("ROS_SECURITY_ENABLE is not true".into());
    }
    if var("ROS_SECURITY_STRATEGY").as_deref() != Some("Enforce") {
        return Err(
            "ROS_SECURITY_STRATEGY is not Enforce (Permissive lets unsecured nodes in)".into(),
        );
    }
    let keystore = var("ROS_SECURITY_KEYSTORE").ok_or("ROS_SECURITY_KEYSTORE is not set")?;
    let enclave = var("ROS_SECURITY_ENCLAVE_OVERRIDE")
        .ok_or("no enclave is passed through (set ROS_SECURITY_ENCLAVE_OVERRIDE, e.g. /codeact)")?;
    let keystore = PathBuf::from(keystore);
    let dir = keystore
        .join("enclaves")
        .join(enclave.trim_start_matches('/'));
    if !dir.is_dir() {
        return Err(format!(
            "the enclave {enclave} has no folder in the keystore ({} is missing; create it with `ros2 security create_enclave {} {enclave}`)",
            dir.display(),
            keystore.display()
        ));
    }
    let missing = missing_files(&dir);
    if !missing.is_empty() {
        return Err(format!(
            "the enclave {} lacks {}",
            dir.display(),
            missing.join(", ")
        ));
    }
    Ok(Exposure::Secured { keystore, enclave })
}

/// The files an SROS2 enclave needs that `dir` lacks.
fn missing_files(dir: &Path) -> Vec<&'static str> {
    [
        "cert.pem",
        "key.pem",
        "governance.p7s",
        "permissions.p7s",
        "identity_ca.cert.pem",
        "permissions_ca.cert.pem",
    ]
    .into_iter()
    .filter(|f| !dir.join(f).is_file())
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn discovery_beyond_this_machine_needs_a_choice() {
        let local = [("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")];
        assert_eq!(choose(&env(&local), false), Ok(Exposure::Local));
        assert_eq!(
            choose(&env(&[("ROS_LOCALHOST_ONLY", "1")]), false),
            Ok(Exposure::Local)
        );
        for subnet in [
            &[][..],
            &[("ROS_AUTOMATIC_DISCOVERY_RANGE", "SUBNET")][..],
            &[("ROS_AUTOMATIC_DISCOVERY_RANGE", "SYSTEM_DEFAULT")][..],
            &[
                ("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST"),
                ("ROS_STATIC_PEERS", "10.0.0.7"),
            ][..],
        ] {
            let e = choose(&env(subnet), false).unwrap_err();
            assert!(matches!(e, NetworkError::Exposed(_)), "{e}");
            assert!(e.to_string().contains("--insecure-network"), "{e}");
            let chosen = choose(&env(subnet), true).unwrap();
            assert!(matches!(chosen, Exposure::Insecure { .. }), "{chosen:?}");
        }
        let e = choose(&env(&[]), false).unwrap_err().to_string();
        assert!(e.contains("unset, which means SUBNET"), "{e}");
    }

    #[test]
    fn security_counts_only_when_enforced_with_an_enclave_in_the_keystore() {
        let dir = tempfile::tempdir().unwrap();
        let keystore = dir.path().to_str().unwrap();
        let vars = |strategy: &'static str| {
            vec![
                ("ROS_AUTOMATIC_DISCOVERY_RANGE", "SUBNET"),
                ("ROS_SECURITY_ENABLE", "true"),
                ("ROS_SECURITY_STRATEGY", strategy),
                ("ROS_SECURITY_KEYSTORE", keystore),
                ("ROS_SECURITY_ENCLAVE_OVERRIDE", "/codeact"),
            ]
        };
        let permissive = vars("Permissive");
        let e = choose(&env(&permissive), true).unwrap_err().to_string();
        assert!(e.contains("not Enforce"), "{e}");
        let enforce = vars("Enforce");
        let e = choose(&env(&enforce), false).unwrap_err().to_string();
        assert!(e.contains("create_enclave"), "{e}");
        let enclave = dir.path().join("enclaves/codeact");
        std::fs::create_dir_all(&enclave).unwrap();
        std::fs::write(enclave.join("cert.pem"), "").unwrap();
        let e = choose(&env(&enforce), false).unwrap_err().to_string();
        assert!(e.contains("lacks key.pem, governance.p7s"), "{e}");
        for f in missing_files(&enclave) {
            std::fs::write(enclave.join(f), "").unwrap();
        }
        let chosen = choose(&env(&enforce), false).unwrap();
        assert!(matches!(chosen, Exposure::Secured { .. }), "{chosen:?}");
        assert!(chosen.describe().contains("enclave /codeact"));
    }
}
