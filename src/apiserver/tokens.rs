//! Service-account tokens: the signing key under the data directory, bound tokens issued
//! by the TokenRequest API, legacy Secret tokens, and their verification (kube-apiserver's
//! `--service-account-issuer`, `--service-account-key-file` and token authenticator).

use std::path::Path;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, UnparsedPublicKey};
use serde::{Deserialize, Serialize};

/// The issuer and default audience of bound tokens (what kubeadm and minikube use).
pub const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";
/// The issuer legacy Secret tokens carry.
pub const LEGACY_ISSUER: &str = "kubernetes/serviceaccount";

/// Errors loading keys or handling tokens.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The key files could not be read or written.
    #[error("service-account key {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The key could not be generated or parsed.
    #[error("service-account key: {0}")]
    Key(String),
    /// The token is malformed, forged, expired or for someone else.
    #[error("invalid bearer token: {0}")]
    Invalid(String),
}

/// A pod, secret or node a token is bound to.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BoundRef {
    /// Object name.
    pub name: String,
    /// Object uid.
    pub uid: String,
}

/// The service account a token names.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AccountRef {
    /// Account name.
    pub name: String,
    /// Account uid.
    pub uid: String,
}

/// The `kubernetes.io` claim of a bound token.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct KubeClaims {
    /// The account's namespace.
    pub namespace: String,
    /// The account.
    pub serviceaccount: AccountRef,
    /// The pod the token is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<BoundRef>,
    /// The secret the token is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<BoundRef>,
    /// The node the token is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<BoundRef>,
}

/// Claims of bound and legacy tokens (a legacy token has the four flat claims instead of
/// `kubernetes.io`, no audience and no expiry).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer.
    pub iss: String,
    /// `system:serviceaccount:<ns>:<name>`.
    pub sub: String,
    /// Audiences.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aud: Vec<String>,
    /// Expiry (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Issued at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// Not before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// Token id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// Bound-token claims.
    #[serde(
        rename = "kubernetes.io",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub kubernetes: Option<KubeClaims>,
    /// Legacy: the account's namespace.
    #[serde(
        rename = "kubernetes.io/serviceaccount/namespace",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub legacy_namespace: Option<String>,
    /// Legacy: the Secret holding the token.
    #[serde(
        rename = "kubernetes.io/serviceaccount/secret.name",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub legacy_secret: Option<String>,
    /// Legacy: the account's name.
    #[serde(
        rename = "kubernetes.io/serviceaccount/service-account.name",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub legacy_account: Option<String>,
    /// Legacy: the account's uid.
    #[serde(
        rename = "kubernetes.io/serviceaccount/service-account.uid",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub legacy_account_uid: Option<String>,
}

impl Claims {
    /// Namespace, account name and account uid, from either claim style.
    pub fn account(&self) -> Option<(&str, &str, &str)> {
        if let Some(k) = &self.kubernetes {
            return Some((&k.namespace, &k.serviceaccount.name, &k.serviceaccount.uid));
        }
        Some((
            self.legacy_namespace.as_deref()?,
            self.legacy_account.as_deref()?,
            self.legacy_account_uid.as_deref()?,
        ))
    }
}

/// How far clocks may disagree when checking a token's validity period.
const LEEWAY_SECS: i64 = 60;

/// A P-256 SubjectPublicKeyInfo is this DER prefix followed by the 65-byte point.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// The DER inside a PEM block.
fn pem_der(pem: &str) -> Result<Vec<u8>, TokenError> {
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD
        .decode(b64.trim())
        .map_err(|e| TokenError::Key(format!("bad PEM: {e}")))
}

/// Signs and verifies service-account tokens (compact JWTs) with the cluster's ES256 key,
/// using ring's ECDSA: only ES256 is ever produced or accepted.
pub struct TokenIssuer {
    key: EcdsaKeyPair,
    public_point: Vec<u8>,
    rng: SystemRandom,
    kid: String,
    public_pem: String,
}

#[derive(Deserialize)]
struct JwtHeader {
    alg: String,
}

impl TokenIssuer {
    /// Load `sa.key`/`sa.pub` from `dir`, creating them on first start.
    pub fn load_or_create(dir: &Path) -> Result<TokenIssuer, TokenError> {
        let key_path = dir.join("sa.key");
        let pub_path = dir.join("sa.pub");
        let io = |path: &Path| {
            let path = path.display().to_string();
            move |source| TokenError::Io { path, source }
        };
        if !key_path.exists() || !pub_path.exists() {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
            let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
                .map_err(|e| TokenError::Key(e.to_string()))?;
            write_private(&key_path, &key.serialize_pem()).map_err(io(&key_path))?;
            std::fs::write(&pub_path, key.public_key_pem()).map_err(io(&pub_path))?;
        }
        let key_pem = std::fs::read_to_string(&key_path).map_err(io(&key_path))?;
        let public_pem = std::fs::read_to_string(&pub_path).map_err(io(&pub_path))?;
        Self::from_pem(&key_pem, &public_pem)
    }

    /// An issuer from PEM keys (PKCS#8 private key, SPKI public key).
    pub fn from_pem(key_pem: &str, public_pem: &str) -> Result<TokenIssuer, TokenError> {
        let rng = SystemRandom::new();
        let key = EcdsaKeyPair::from_pkcs8(
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &pem_der(key_pem)?,
            &rng,
        )
        .map_err(|e| TokenError::Key(format!("not a P-256 PKCS#8 key: {e}")))?;
        let der = pem_der(public_pem)?;
        let public_point = der
            .strip_prefix(&P256_SPKI_PREFIX[..])
            .filter(|p| p.len() == 65)
            .ok_or_else(|| TokenError::Key("sa.pub is not a P-256 public key".into()))?
            .to_vec();
        // Like kube-apiserver: the key id is the hash of the public key's DER form.
        let digest = ring::digest::digest(&ring::digest::SHA256, &der);
        let kid = URL_SAFE_NO_PAD.encode(digest.as_ref());
        Ok(TokenIssuer {
            key,
            public_point,
            rng,
            kid,
            public_pem: public_pem.to_string(),
        })
    }

    /// The public key (PEM), for verifiers elsewhere.
    pub fn public_pem(&self) -> &str {
        &self.public_pem
    }

    /// Sign claims into a compact JWT.
    pub fn sign(&self, claims: &Claims) -> Result<String, TokenError> {
        let header = serde_json::json!({"alg": "ES256", "kid": self.kid, "typ": "JWT"});
        let payload = serde_json::to_vec(claims).map_err(|e| TokenError::Key(e.to_string()))?;
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let sig = self
            .key
            .sign(&self.rng, signing_input.as_bytes())
            .map_err(|e| TokenError::Key(format!("signing: {e}")))?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(sig.as_ref())
        ))
    }

    /// Check a token's signature, issuer and validity period; audiences and the objects it
    /// names are the caller's to check.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let invalid = |why: &str| TokenError::Invalid(why.to_string());
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(sig), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid("not a compact JWT"));
        };
        let decode = |part: &str| {
            URL_SAFE_NO_PAD
                .decode(part)
                .map_err(|_| invalid("bad base64url"))
        };
        let header: JwtHeader =
            serde_json::from_slice(&decode(h)?).map_err(|_| invalid("bad header"))?;
        if header.alg != "ES256" {
            return Err(invalid("only ES256 tokens are accepted"));
        }
        UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, &self.public_point)
            .verify(format!("{h}.{p}").as_bytes(), &decode(sig)?)
            .map_err(|_| invalid("bad signature"))?;
        let claims: Claims = serde_json::from_slice(&decode(p)?)
            .map_err(|e| invalid(&format!("bad claims: {e}")))?;
        if claims.iss != ISSUER && claims.iss != LEGACY_ISSUER {
            return Err(invalid("unknown issuer"));
        }
        let now = now();
        if claims.exp.is_some_and(|exp| now - LEEWAY_SECS > exp) {
            return Err(invalid("expired"));
        }
        if claims.nbf.is_some_and(|nbf| now + LEEWAY_SECS < nbf) {
            return Err(invalid("not yet valid"));
        }
        Ok(claims)
    }
}

fn write_private(path: &Path, pem: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(pem.as_bytes())
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bound(exp: i64) -> Claims {
        Claims {
            iss: ISSUER.into(),
            sub: "system:serviceaccount:dev:ci".into(),
            aud: vec![ISSUER.into()],
            exp: Some(exp),
            iat: Some(now()),
            nbf: Some(now()),
            jti: Some("1".into()),
            kubernetes: Some(KubeClaims {
                namespace: "dev".into(),
                serviceaccount: AccountRef {
                    name: "ci".into(),
                    uid: "u1".into(),
                },
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn sign_verify_and_reject() {
        let dir = tempfile::tempdir().unwrap();
        let issuer = TokenIssuer::load_or_create(dir.path()).unwrap();
        let claims = bound(now() + 3600);
        let token = issuer.sign(&claims).unwrap();
        assert_eq!(issuer.verify(&token).unwrap(), claims);
        assert_eq!(claims.account(), Some(("dev", "ci", "u1")));
        // Reloading keeps the key.
        let again = TokenIssuer::load_or_create(dir.path()).unwrap();
        assert!(again.verify(&token).is_ok());
        // Expired, tampered and foreign tokens fail.
        assert!(issuer
            .verify(&issuer.sign(&bound(now() - 3600)).unwrap())
            .is_err());
        let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
        parts[1] = URL_SAFE_NO_PAD.encode(br#"{"iss":"https://kubernetes.default.svc.cluster.local","sub":"system:serviceaccount:kube-system:admin"}"#);
        assert!(issuer.verify(&parts.join(".")).is_err());
        let other = TokenIssuer::load_or_create(tempfile::tempdir().unwrap().path()).unwrap();
        assert!(other.verify(&token).is_err());
        assert!(issuer.verify("not-a-jwt").is_err());
        // An unsigned token naming another algorithm is refused whatever it says.
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#),
            parts[1]
        );
        assert!(issuer.verify(&none).is_err());
    }

    #[test]
    fn legacy_tokens_have_no_expiry() {
        let dir = tempfile::tempdir().unwrap();
        let issuer = TokenIssuer::load_or_create(dir.path()).unwrap();
        let claims = Claims {
            iss: LEGACY_ISSUER.into(),
            sub: "system:serviceaccount:dev:ci".into(),
            legacy_namespace: Some("dev".into()),
            legacy_secret: Some("ci-token".into()),
            legacy_account: Some("ci".into()),
            legacy_account_uid: Some("u1".into()),
            ..Default::default()
        };
        let back = issuer.verify(&issuer.sign(&claims).unwrap()).unwrap();
        assert_eq!(back.account(), Some(("dev", "ci", "u1")));
    }
}
