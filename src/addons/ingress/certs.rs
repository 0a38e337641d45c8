//! Certificates for the HTTPS side: each `spec.tls` host gets its Secret's certificate,
//! chosen by SNI (wildcards included); anything else gets a self-signed default, as
//! ingress-nginx's "Kubernetes Ingress Controller Fake Certificate".

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use k8s_openapi::api::core::v1::Secret;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::routes::host_matches;

/// Certificates by host, swapped whole when Ingresses or Secrets change.
#[derive(Debug)]
pub struct Certs {
    by_host: RwLock<Arc<HashMap<String, Arc<CertifiedKey>>>>,
    fallback: Arc<CertifiedKey>,
}

/// A `kubernetes.io/tls` Secret's certificate and key, ready to serve.
pub fn from_secret(s: &Secret) -> Result<Arc<CertifiedKey>, String> {
    if s.type_.as_deref() != Some("kubernetes.io/tls") {
        return Err(format!(
            "secret is of type {:?}, not kubernetes.io/tls",
            s.type_.as_deref().unwrap_or("")
        ));
    }
    let data = s.data.as_ref().ok_or("secret has no data")?;
    let crt = data.get("tls.crt").ok_or("secret has no tls.crt")?;
    let key = data.get("tls.key").ok_or("secret has no tls.key")?;
    certified(&crt.0, &key.0)
}

fn certified(cert_pem: &[u8], key_pem: &[u8]) -> Result<Arc<CertifiedKey>, String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("tls.crt: {e}"))?;
    if chain.is_empty() {
        return Err("tls.crt holds no certificate".into());
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| format!("tls.key: {e}"))?;
    let signer = rustls::crypto::ring::sign::any_supported_type(&key)
        .map_err(|e| format!("tls.key: {e}"))?;
    let ck = CertifiedKey::new(chain, signer);
    ck.keys_match()
        .map_err(|e| format!("tls.crt and tls.key do not match: {e}"))?;
    Ok(Arc::new(ck))
}

impl Certs {
    /// A store whose default is a fresh self-signed certificate.
    pub fn new() -> Result<Certs, String> {
        let fake = rcgen::generate_simple_self_signed(vec!["ingress.local".to_string()])
            .map_err(|e| e.to_string())?;
        let fallback = certified(
            fake.cert.pem().as_bytes(),
            fake.signing_key.serialize_pem().as_bytes(),
        )?;
        Ok(Certs {
            by_host: RwLock::default(),
            fallback,
        })
    }

    /// Replace the host map.
    pub fn set(&self, map: HashMap<String, Arc<CertifiedKey>>) {
        if let Ok(mut g) = self.by_host.write() {
            *g = Arc::new(map);
        }
    }

    fn lookup(&self, sni: Option<&str>) -> Arc<CertifiedKey> {
        let map = self.by_host.read().map(|g| g.clone()).unwrap_or_default();
        let Some(host) = sni.map(str::to_ascii_lowercase) else {
            return self.fallback.clone();
        };
        map.get(&host)
            .or_else(|| {
                map.iter()
                    .find(|(p, _)| host_matches(p, &host))
                    .map(|(_, c)| c)
            })
            .cloned()
            .unwrap_or_else(|| self.fallback.clone())
    }
}

/// Resolves by SNI through a shared [`Certs`].
#[derive(Debug)]
pub struct Resolver(pub Arc<Certs>);

impl ResolvesServerCert for Resolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.lookup(hello.server_name()))
    }
}

/// The TLS side's server configuration (HTTP/2 and HTTP/1.1 by ALPN).
pub fn server_config(certs: Arc<Certs>) -> Result<rustls::ServerConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(Resolver(certs)));
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;
    use std::collections::BTreeMap;

    #[test]
    fn secrets_give_certificates_by_sni_and_bad_ones_are_refused() {
        let c = rcgen::generate_simple_self_signed(vec!["hello.example".to_string()]).unwrap();
        let secret = |t: &str, key: String| Secret {
            type_: Some(t.into()),
            data: Some(BTreeMap::from([
                ("tls.crt".to_string(), ByteString(c.cert.pem().into_bytes())),
                ("tls.key".to_string(), ByteString(key.into_bytes())),
            ])),
            ..Default::default()
        };
        let good =
            from_secret(&secret("kubernetes.io/tls", c.signing_key.serialize_pem())).unwrap();
        assert!(from_secret(&secret("Opaque", c.signing_key.serialize_pem())).is_err());
        assert!(from_secret(&secret("kubernetes.io/tls", "junk".into())).is_err());
        let other = rcgen::generate_simple_self_signed(vec!["x".to_string()]).unwrap();
        assert!(from_secret(&secret(
            "kubernetes.io/tls",
            other.signing_key.serialize_pem()
        ))
        .is_err());
        let certs = Certs::new().unwrap();
        certs.set(HashMap::from([(
            "*.wild.example".to_string(),
            good.clone(),
        )]));
        assert!(Arc::ptr_eq(&certs.lookup(Some("a.wild.example")), &good));
        assert!(!Arc::ptr_eq(&certs.lookup(Some("other")), &good));
        assert!(!Arc::ptr_eq(&certs.lookup(None), &good));
    }
}
