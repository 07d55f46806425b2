//! Account keys: generation, PEM import/export, JWK and the RFC 7638
//! thumbprint. Signing is used by [`crate::jws`].

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{
    EcdsaKeyPair, EcdsaSigningAlgorithm, Ed25519KeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING,
    ECDSA_P384_SHA384_FIXED_SIGNING, ECDSA_P521_SHA512_FIXED_SIGNING, RSA_PKCS1_SHA256,
};
use rustls_pki_types::pem::{PemObject, SectionKind};
use std::fmt;
use std::sync::Arc;

use crate::b64;
use crate::error::{Error, Result};

/// The kinds of account key acmekit can generate and sign with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyType {
    /// ECDSA P-256 with SHA-256 (JWS `ES256`). The default.
    #[default]
    Es256,
    /// ECDSA P-384 with SHA-384 (`ES384`).
    Es384,
    /// ECDSA P-521 with SHA-512 (`ES512`).
    Es512,
    /// RSA 2048 PKCS#1 v1.5 with SHA-256 (`RS256`).
    Rs256_2048,
    /// RSA 3072 (`RS256`).
    Rs256_3072,
    /// RSA 4096 (`RS256`).
    Rs256_4096,
    /// Ed25519 (`EdDSA`, RFC 8037).
    Ed25519,
}

impl KeyType {
    /// All key types, for tests and help texts.
    pub const ALL: [KeyType; 7] = [
        KeyType::Es256,
        KeyType::Es384,
        KeyType::Es512,
        KeyType::Rs256_2048,
        KeyType::Rs256_3072,
        KeyType::Rs256_4096,
        KeyType::Ed25519,
    ];

    /// The JWS `alg` value.
    pub fn jws_alg(self) -> &'static str {
        match self {
            KeyType::Es256 => "ES256",
            KeyType::Es384 => "ES384",
            KeyType::Es512 => "ES512",
            KeyType::Rs256_2048 | KeyType::Rs256_3072 | KeyType::Rs256_4096 => "RS256",
            KeyType::Ed25519 => "EdDSA",
        }
    }

    fn ecdsa_alg(self) -> Option<(&'static EcdsaSigningAlgorithm, &'static str, usize)> {
        match self {
            KeyType::Es256 => Some((&ECDSA_P256_SHA256_FIXED_SIGNING, "P-256", 32)),
            KeyType::Es384 => Some((&ECDSA_P384_SHA384_FIXED_SIGNING, "P-384", 48)),
            KeyType::Es512 => Some((&ECDSA_P521_SHA512_FIXED_SIGNING, "P-521", 66)),
            _ => None,
        }
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyType::Es256 => "ec256",
            KeyType::Es384 => "ec384",
            KeyType::Es512 => "ec521",
            KeyType::Rs256_2048 => "rsa2048",
            KeyType::Rs256_3072 => "rsa3072",
            KeyType::Rs256_4096 => "rsa4096",
            KeyType::Ed25519 => "ed25519",
        })
    }
}

impl std::str::FromStr for KeyType {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        KeyType::ALL
            .into_iter()
            .find(|k| k.to_string() == s || (s == "ec521" && *k == KeyType::Es512))
            .ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "unknown key type {s:?}; use one of ec256, ec384, ec521, rsa2048, rsa3072, rsa4096, ed25519"
                ))
            })
    }
}

/// A public key as a JWK (RFC 7517), holding only the members RFC 7638
/// requires for the thumbprint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Jwk {
    /// An elliptic-curve key: curve name and base64url coordinates.
    Ec {
        /// `crv`
        crv: &'static str,
        /// `x`
        x: String,
        /// `y`
        y: String,
    },
    /// An RSA key: base64url modulus and exponent.
    Rsa {
        /// `n`
        n: String,
        /// `e`
        e: String,
    },
    /// An octet key pair (RFC 8037): Ed25519.
    Okp {
        /// `crv`
        crv: &'static str,
        /// `x`
        x: String,
    },
}

impl Jwk {
    /// The JWK as JSON with the required members in lexicographic order and
    /// no whitespace: exactly the RFC 7638 §3 hash input, and a valid JWK.
    pub fn to_json(&self) -> String {
        match self {
            Jwk::Ec { crv, x, y } => {
                format!(r#"{{"crv":"{crv}","kty":"EC","x":"{x}","y":"{y}"}}"#)
            }
            Jwk::Rsa { n, e } => format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#),
            Jwk::Okp { crv, x } => format!(r#"{{"crv":"{crv}","kty":"OKP","x":"{x}"}}"#),
        }
    }

    /// The RFC 7638 thumbprint: base64url(SHA-256(canonical JWK)).
    pub fn thumbprint(&self) -> String {
        let digest =
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, self.to_json().as_bytes());
        b64(digest.as_ref())
    }
}

enum Inner {
    Ecdsa(EcdsaKeyPair),
    Rsa(RsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// An account key pair. Cheap to clone; `Debug` never shows the private key.
#[derive(Clone)]
pub struct AccountKey {
    inner: Arc<Inner>,
    kind: KeyType,
    jwk: Arc<Jwk>,
    thumbprint: Arc<str>,
}

impl fmt::Debug for AccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountKey")
            .field("type", &self.kind)
            .field("thumbprint", &self.thumbprint)
            .finish_non_exhaustive()
    }
}

fn key_err(what: &str) -> impl Fn(aws_lc_rs::error::Unspecified) -> Error + '_ {
    move |_| Error::Key(format!("could not {what}"))
}

impl AccountKey {
    /// Generates a fresh key of the given type.
    pub fn generate(kind: KeyType) -> Result<Self> {
        let inner = if let Some((alg, ..)) = kind.ecdsa_alg() {
            Inner::Ecdsa(EcdsaKeyPair::generate(alg).map_err(key_err("generate an ECDSA key"))?)
        } else {
            match kind {
                KeyType::Rs256_2048 | KeyType::Rs256_3072 | KeyType::Rs256_4096 => {
                    let size = match kind {
                        KeyType::Rs256_2048 => KeySize::Rsa2048,
                        KeyType::Rs256_3072 => KeySize::Rsa3072,
                        _ => KeySize::Rsa4096,
                    };
                    Inner::Rsa(RsaKeyPair::generate(size).map_err(key_err("generate an RSA key"))?)
                }
                _ => Inner::Ed25519(
                    Ed25519KeyPair::generate().map_err(key_err("generate an Ed25519 key"))?,
                ),
            }
        };
        Self::from_inner(inner, Some(kind))
    }

    /// Reads a private key from PEM: PKCS#8 (`PRIVATE KEY`), SEC1
    /// (`EC PRIVATE KEY`, as certbot and lego write) or PKCS#1
    /// (`RSA PRIVATE KEY`).
    pub fn from_pem(pem: &str) -> Result<Self> {
        let (kind, der): (SectionKind, Vec<u8>) = PemObject::from_pem_slice(pem.as_bytes())
            .map_err(|e| Error::Key(format!("not a PEM private key ({e})")))?;
        match kind {
            SectionKind::PrivateKey => Self::from_pkcs8_der(&der),
            SectionKind::EcPrivateKey => {
                for t in [KeyType::Es256, KeyType::Es384, KeyType::Es512] {
                    let (alg, ..) = t.ecdsa_alg().expect("ECDSA type");
                    if let Ok(k) = EcdsaKeyPair::from_private_key_der(alg, &der) {
                        return Self::from_inner(Inner::Ecdsa(k), Some(t));
                    }
                }
                Err(Error::Key(
                    "the EC PRIVATE KEY is not on a supported curve (P-256, P-384, P-521)".into(),
                ))
            }
            SectionKind::RsaPrivateKey => {
                let k = RsaKeyPair::from_der(&der)
                    .map_err(|e| Error::Key(format!("invalid RSA PRIVATE KEY: {e}")))?;
                Self::from_inner(Inner::Rsa(k), None)
            }
            other => Err(Error::Key(format!(
                "expected a PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY PEM block, found {other:?}"
            ))),
        }
    }

    /// Reads a PKCS#8 DER private key of any supported type.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self> {
        for t in [KeyType::Es256, KeyType::Es384, KeyType::Es512] {
            let (alg, ..) = t.ecdsa_alg().expect("ECDSA type");
            if let Ok(k) = EcdsaKeyPair::from_pkcs8(alg, der) {
                return Self::from_inner(Inner::Ecdsa(k), Some(t));
            }
        }
        if let Ok(k) = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der) {
            return Self::from_inner(Inner::Ed25519(k), Some(KeyType::Ed25519));
        }
        if let Ok(k) = RsaKeyPair::from_pkcs8(der) {
            return Self::from_inner(Inner::Rsa(k), None);
        }
        Err(Error::Key(
            "unsupported PKCS#8 key: expected ECDSA P-256/P-384/P-521, RSA (2048-4096 bits) or Ed25519"
                .into(),
        ))
    }

    #[cfg(test)]
    pub(crate) fn ed25519_from_seed(seed: &[u8]) -> Self {
        Self::from_inner(
            Inner::Ed25519(Ed25519KeyPair::from_seed_unchecked(seed).unwrap()),
            Some(KeyType::Ed25519),
        )
        .unwrap()
    }

    fn from_inner(inner: Inner, kind: Option<KeyType>) -> Result<Self> {
        let (kind, jwk) = match &inner {
            Inner::Ecdsa(k) => {
                let kind = kind.expect("ECDSA keys know their type");
                let (_, crv, len) = kind.ecdsa_alg().expect("ECDSA type");
                let point = k.public_key().as_ref();
                if point.len() != 1 + 2 * len || point[0] != 4 {
                    return Err(Error::Key("unexpected EC public key encoding".into()));
                }
                let jwk = Jwk::Ec {
                    crv,
                    x: b64(&point[1..1 + len]),
                    y: b64(&point[1 + len..]),
                };
                (kind, jwk)
            }
            Inner::Rsa(k) => {
                let bits = k.public_modulus_len() * 8;
                let kind = match bits {
                    2048 => KeyType::Rs256_2048,
                    3072 => KeyType::Rs256_3072,
                    4096 => KeyType::Rs256_4096,
                    _ => {
                        return Err(Error::Key(format!(
                            "RSA keys of {bits} bits are not supported; use 2048, 3072 or 4096"
                        )))
                    }
                };
                let public = k.public_key();
                let jwk = Jwk::Rsa {
                    n: b64(public.modulus().big_endian_without_leading_zero()),
                    e: b64(public.exponent().big_endian_without_leading_zero()),
                };
                (kind, jwk)
            }
            Inner::Ed25519(k) => (
                KeyType::Ed25519,
                Jwk::Okp {
                    crv: "Ed25519",
                    x: b64(k.public_key().as_ref()),
                },
            ),
        };
        let thumbprint = jwk.thumbprint().into();
        Ok(AccountKey {
            inner: Arc::new(inner),
            kind,
            jwk: Arc::new(jwk),
            thumbprint,
        })
    }

    /// The key's type.
    pub fn key_type(&self) -> KeyType {
        self.kind
    }

    /// The public key as a JWK.
    pub fn jwk(&self) -> &Jwk {
        &self.jwk
    }

    /// The RFC 7638 thumbprint (base64url), as used in key authorizations.
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// The private key as PKCS#8 DER. Sensitive: store it with care.
    pub fn to_pkcs8_der(&self) -> Result<Vec<u8>> {
        let doc = match &*self.inner {
            Inner::Ecdsa(k) => k
                .to_pkcs8v1()
                .map_err(key_err("export the key"))?
                .as_ref()
                .to_vec(),
            Inner::Rsa(k) => AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(k)
                .map_err(key_err("export the key"))?
                .as_ref()
                .to_vec(),
            Inner::Ed25519(k) => k
                .to_pkcs8v1()
                .map_err(key_err("export the key"))?
                .as_ref()
                .to_vec(),
        };
        Ok(doc)
    }

    /// The private key as a PKCS#8 PEM (`PRIVATE KEY`). Sensitive.
    pub fn to_pem(&self) -> Result<String> {
        Ok(crate::pem_encode("PRIVATE KEY", &self.to_pkcs8_der()?))
    }

    /// Signs `message` with the key's JWS algorithm; returns the raw JWS
    /// signature (r||s for ECDSA).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        let rng = SystemRandom::new();
        match &*self.inner {
            Inner::Ecdsa(k) => Ok(k
                .sign(&rng, message)
                .map_err(key_err("sign with the ECDSA key"))?
                .as_ref()
                .to_vec()),
            Inner::Rsa(k) => {
                let mut sig = vec![0; k.public_modulus_len()];
                k.sign(&RSA_PKCS1_SHA256, &rng, message, &mut sig)
                    .map_err(key_err("sign with the RSA key"))?;
                Ok(sig)
            }
            Inner::Ed25519(k) => Ok(k.sign(message).as_ref().to_vec()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7638 §3.1: the thumbprint of the example RSA key.
    #[test]
    fn rfc7638_3_1_thumbprint() {
        let jwk = Jwk::Rsa {
            n: "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw".into(),
            e: "AQAB".into(),
        };
        assert_eq!(
            jwk.thumbprint(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn generate_export_import_every_type() {
        for t in KeyType::ALL {
            let k = AccountKey::generate(t).unwrap();
            assert_eq!(k.key_type(), t);
            let pem = k.to_pem().unwrap();
            assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
            let back = AccountKey::from_pem(&pem).unwrap();
            assert_eq!(back.key_type(), t, "{t}");
            assert_eq!(back.thumbprint(), k.thumbprint(), "{t}");
            assert!(!format!("{k:?}").contains(&pem[30..60]));
        }
    }

    /// SEC1 `EC PRIVATE KEY` and PKCS#1 `RSA PRIVATE KEY`, as certbot, lego
    /// and `openssl genrsa -traditional` write them.
    #[test]
    fn reads_sec1_and_pkcs1() {
        use aws_lc_rs::encoding::EcPrivateKeyRfc5915Der;
        let k = EcdsaKeyPair::generate(&ECDSA_P384_SHA384_FIXED_SIGNING).unwrap();
        let sec1: EcPrivateKeyRfc5915Der<'_> = k.private_key().as_der().unwrap();
        let pem = crate::pem_encode("EC PRIVATE KEY", sec1.as_ref());
        let key = AccountKey::from_pem(&pem).unwrap();
        assert_eq!(key.key_type(), KeyType::Es384);

        let out = std::process::Command::new("openssl")
            .args(["genrsa", "-traditional", "2048"])
            .output()
            .expect("openssl is needed for this test (Debian package openssl)");
        let pem = String::from_utf8(out.stdout).unwrap();
        assert!(pem.starts_with("-----BEGIN RSA PRIVATE KEY-----"), "{pem}");
        let key = AccountKey::from_pem(&pem).unwrap();
        assert_eq!(key.key_type(), KeyType::Rs256_2048);
        let again = AccountKey::from_pem(&key.to_pem().unwrap()).unwrap();
        assert_eq!(again.thumbprint(), key.thumbprint());
    }

    #[test]
    fn bad_pem_is_a_clear_error() {
        let e = AccountKey::from_pem("hello").unwrap_err().to_string();
        assert!(e.contains("PEM"), "{e}");
        let e =
            AccountKey::from_pem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
                .unwrap_err()
                .to_string();
        assert!(e.contains("PRIVATE KEY"), "{e}");
        assert!("rsa1024".parse::<KeyType>().is_err());
        assert_eq!("ec384".parse::<KeyType>().unwrap(), KeyType::Es384);
    }
}
