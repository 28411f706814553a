//! A throwaway PKI made with the `openssl` command: a CA, a server certificate for
//! 127.0.0.1 and a client certificate, for TLS registries in tests.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::require_tool;

/// The `openssl` binary.
pub const OPENSSL_BIN: &str = "/usr/bin/openssl";

/// Files of a generated PKI (all PEM).
#[derive(Debug, Clone)]
pub struct Pki {
    /// CA certificate.
    pub ca_cert: PathBuf,
    /// CA key (PKCS#8 PEM).
    pub ca_key: PathBuf,
    /// Server certificate (SAN IP:127.0.0.1) and key.
    pub server_cert: PathBuf,
    /// Server key.
    pub server_key: PathBuf,
    /// Client certificate and key (for `clientcas`).
    pub client_cert: PathBuf,
    /// Client key.
    pub client_key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) -> Result<(), String> {
    let out = Command::new(OPENSSL_BIN)
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| format!("running openssl: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "openssl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

impl Pki {
    /// Generates the PKI into `dir` (P-256 keys, valid two days).
    pub fn generate(dir: &Path) -> Result<Pki, String> {
        require_tool(OPENSSL_BIN, "openssl")?;
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.crt",
                "-days",
                "2",
                "-subj",
                "/CN=hangar test CA",
            ],
        )?;
        for (name, cn, usage, san) in [
            (
                "server",
                "127.0.0.1",
                "serverAuth",
                "subjectAltName=IP:127.0.0.1\n",
            ),
            ("client", "hangar test client", "clientAuth", ""),
        ] {
            openssl(
                dir,
                &[
                    "req",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                    "-nodes",
                    "-keyout",
                    &format!("{name}.key"),
                    "-out",
                    &format!("{name}.csr"),
                    "-subj",
                    &format!("/CN={cn}"),
                ],
            )?;
            std::fs::write(dir.join(format!("{name}.ext")), format!("{san}basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage={usage}\n")).map_err(|e| e.to_string())?;
            openssl(
                dir,
                &[
                    "x509",
                    "-req",
                    "-in",
                    &format!("{name}.csr"),
                    "-CA",
                    "ca.crt",
                    "-CAkey",
                    "ca.key",
                    "-CAcreateserial",
                    "-out",
                    &format!("{name}.crt"),
                    "-days",
                    "2",
                    "-extfile",
                    &format!("{name}.ext"),
                ],
            )?;
        }
        Ok(Pki {
            ca_cert: dir.join("ca.crt"),
            ca_key: dir.join("ca.key"),
            server_cert: dir.join("server.crt"),
            server_key: dir.join("server.key"),
            client_cert: dir.join("client.crt"),
            client_key: dir.join("client.key"),
        })
    }
}
