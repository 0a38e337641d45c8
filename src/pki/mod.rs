//! Cluster PKI: the CA, the API server's serving certificate and client certificates.
//!
//! Files live in one directory (`<data-dir>/pki`). The CA and keys are created on first use
//! and reused afterwards; the serving certificate is re-issued when the names it must carry
//! change, so a restart with a new node address keeps working without a new CA.

use std::collections::BTreeSet;
use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

/// Errors creating or loading certificates.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Certificate generation or parsing failed.
    #[error("certificate {what}: {source}")]
    Cert {
        /// Which certificate.
        what: String,
        /// The cause.
        source: rcgen::Error,
    },
}

/// Validity of every certificate we issue: like minikube, long enough to never bother a user.
const VALID_DAYS: i64 = 3650;

/// A PEM certificate and its PEM private key.
#[derive(Clone, Debug)]
pub struct CertPair {
    /// Certificate, PEM.
    pub cert_pem: String,
    /// Private key, PEM (PKCS#8).
    pub key_pem: String,
}

/// The cluster's certificate authority, loaded from or created in a directory.
pub struct Ca {
    dir: PathBuf,
    cert_pem: String,
    key: KeyPair,
}

fn read(path: &Path) -> Result<Option<String>, PkiError> {
    match fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(PkiError::Io {
            path: path.to_path_buf(),
            source: e,
        }),
    }
}

/// Create `dir` (and missing parents) readable by its owner only, and make an existing
/// `dir` so: directories holding keys, certificates or a datastore are 700, as kubeadm's
/// PKI and etcd's data directory.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
}

fn write(path: &Path, contents: &str, private: bool) -> Result<(), PkiError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let io = |e| PkiError::Io {
        path: path.to_path_buf(),
        source: e,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        private_dir(parent).map_err(io)?;
    }
    // Write then rename so a crash never leaves half a key behind; a key's file is 600
    // from its creation on, never readable by others for a moment.
    let tmp = path.with_extension("tmp");
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(if private { 0o600 } else { 0o644 })
        .open(&tmp)
        .map_err(io)?;
    if private {
        // A temporary file left by a crash keeps its mode; tighten it before writing.
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(fs::Permissions::from_mode(0o600))
            .map_err(io)?;
    }
    f.write_all(contents.as_bytes()).map_err(io)?;
    drop(f);
    fs::rename(&tmp, path).map_err(io)
}

fn cert_err(what: &str) -> impl FnOnce(rcgen::Error) -> PkiError + '_ {
    move |source| PkiError::Cert {
        what: what.to_string(),
        source,
    }
}

fn validity(params: &mut CertificateParams) {
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + time::Duration::days(VALID_DAYS);
}

impl Ca {
    /// Load the CA from `dir`, creating it on first use.
    pub fn load_or_create(dir: &Path, common_name: &str) -> Result<Ca, PkiError> {
        let cert_path = dir.join("ca.crt");
        let key_path = dir.join("ca.key");
        if let (Some(cert_pem), Some(key_pem)) = (read(&cert_path)?, read(&key_path)?) {
            let key = KeyPair::from_pem(&key_pem).map_err(cert_err("ca.key"))?;
            return Ok(Ca {
                dir: dir.to_path_buf(),
                cert_pem,
                key,
            });
        }
        let key = KeyPair::generate().map_err(cert_err("ca key"))?;
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(cert_err("ca"))?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        validity(&mut params);
        let cert = params.self_signed(&key).map_err(cert_err("ca"))?;
        let cert_pem = cert.pem();
        write(&key_path, &key.serialize_pem(), true)?;
        write(&cert_path, &cert_pem, false)?;
        Ok(Ca {
            dir: dir.to_path_buf(),
            cert_pem,
            key,
        })
    }

    /// The CA certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Path of the CA certificate file.
    pub fn cert_path(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }

    fn issuer(&self) -> Result<Issuer<'static, &KeyPair>, PkiError> {
        Issuer::from_ca_cert_pem(&self.cert_pem, &self.key).map_err(cert_err("ca issuer"))
    }

    /// Sign a leaf certificate for `usage` with a new key and write both files.
    fn issue(
        &self,
        name: &str,
        mut params: CertificateParams,
        usage: ExtendedKeyUsagePurpose,
    ) -> Result<CertPair, PkiError> {
        let key = KeyPair::generate().map_err(cert_err(name))?;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![usage];
        validity(&mut params);
        let cert = params
            .signed_by(&key, &self.issuer()?)
            .map_err(cert_err(name))?;
        let pair = CertPair {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        };
        write(&self.dir.join(format!("{name}.key")), &pair.key_pem, true)?;
        write(&self.dir.join(format!("{name}.crt")), &pair.cert_pem, false)?;
        Ok(pair)
    }

    /// The serving certificate `name` for these DNS names and IPs; re-issued when the set changes.
    pub fn serving_cert(
        &self,
        name: &str,
        common_name: &str,
        dns_names: &[String],
        ips: &[IpAddr],
    ) -> Result<CertPair, PkiError> {
        let cert_path = self.dir.join(format!("{name}.crt"));
        let key_path = self.dir.join(format!("{name}.key"));
        let sans_path = self.dir.join(format!("{name}.sans"));
        let mut wanted: BTreeSet<String> = dns_names.iter().cloned().collect();
        wanted.extend(ips.iter().map(|ip| ip.to_string()));
        let wanted_line = wanted.iter().cloned().collect::<Vec<_>>().join(",");
        if let (Some(cert_pem), Some(key_pem), Some(sans)) =
            (read(&cert_path)?, read(&key_path)?, read(&sans_path)?)
        {
            if sans.trim() == wanted_line {
                return Ok(CertPair { cert_pem, key_pem });
            }
        }
        let mut params = CertificateParams::new(dns_names.to_vec()).map_err(cert_err(name))?;
        params
            .subject_alt_names
            .extend(ips.iter().map(|ip| SanType::IpAddress(*ip)));
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        let pair = self.issue(name, params, ExtendedKeyUsagePurpose::ServerAuth)?;
        write(&sans_path, &wanted_line, false)?;
        Ok(pair)
    }

    /// The client certificate `name` for user `common_name` in `groups`, created once.
    pub fn client_cert(
        &self,
        name: &str,
        common_name: &str,
        groups: &[&str],
    ) -> Result<CertPair, PkiError> {
        let cert_path = self.dir.join(format!("{name}.crt"));
        let key_path = self.dir.join(format!("{name}.key"));
        if let (Some(cert_pem), Some(key_pem)) = (read(&cert_path)?, read(&key_path)?) {
            return Ok(CertPair { cert_pem, key_pem });
        }
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(cert_err(name))?;
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        for g in groups {
            params.distinguished_name.push(DnType::OrganizationName, *g);
        }
        self.issue(name, params, ExtendedKeyUsagePurpose::ClientAuth)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_600_and_their_directory_700() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("profile/pki");
        let ca = Ca::load_or_create(&dir, "rkubeCA").unwrap();
        ca.client_cert("admin", "rkube-user", &["system:masters"])
            .unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&root.path().join("profile")), 0o700);
        for key in ["ca.key", "admin.key"] {
            assert_eq!(mode(&dir.join(key)), 0o600, "{key}");
        }
        // A directory made before, with the usual 755, is tightened.
        let loose = root.path().join("loose");
        fs::create_dir(&loose).unwrap();
        fs::set_permissions(&loose, fs::Permissions::from_mode(0o755)).unwrap();
        private_dir(&loose).unwrap();
        assert_eq!(mode(&loose), 0o700);
    }

    #[test]
    fn ca_is_reused_and_serving_cert_follows_names() {
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::load_or_create(dir.path(), "rkubeCA").unwrap();
        let first = ca.cert_pem().to_string();
        let again = Ca::load_or_create(dir.path(), "rkubeCA").unwrap();
        assert_eq!(first, again.cert_pem());

        let ips: Vec<IpAddr> = vec!["127.0.0.1".parse().unwrap()];
        let a = ca
            .serving_cert("apiserver", "kube-apiserver", &["localhost".into()], &ips)
            .unwrap();
        let b = ca
            .serving_cert("apiserver", "kube-apiserver", &["localhost".into()], &ips)
            .unwrap();
        assert_eq!(a.cert_pem, b.cert_pem, "same names reuse the certificate");
        let c = ca
            .serving_cert(
                "apiserver",
                "kube-apiserver",
                &["localhost".into(), "node".into()],
                &ips,
            )
            .unwrap();
        assert_ne!(a.cert_pem, c.cert_pem, "new names re-issue it");

        let admin = ca
            .client_cert("admin", "rkube-user", &["system:masters"])
            .unwrap();
        let (_, parsed) = x509_parser::pem::parse_x509_pem(admin.cert_pem.as_bytes()).unwrap();
        let cert = parsed.parse_x509().unwrap();
        let cn: Vec<_> = cert
            .subject()
            .iter_common_name()
            .filter_map(|a| a.as_str().ok())
            .collect();
        let o: Vec<_> = cert
            .subject()
            .iter_organization()
            .filter_map(|a| a.as_str().ok())
            .collect();
        assert_eq!(cn, ["rkube-user"]);
        assert_eq!(o, ["system:masters"]);
    }
}
