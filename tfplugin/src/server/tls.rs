//! go-plugin AutoMTLS: a self-signed server certificate made at start, and a
//! client verifier that accepts exactly the certificate Terraform passed in
//! `PLUGIN_CLIENT_CERT` (after checking the handshake signature with its key).
//!
//! No randomness is drawn from aws-lc's generator: its first use in a process
//! seeds it from CPU jitter entropy, which cost 55 ms of CPU on an idle core and
//! 65–350 ms on the shared 2-core machine, before every handshake line (and
//! Terraform starts the plugin three times per plan). The randomness the
//! plugin needs comes from the OS instead ([`OsRandom`]): the Ed25519 server
//! key's seed (Ed25519 signs deterministically), the X25519 ephemeral keys
//! ([`X25519FromOs`]) and rustls's own random values.

use std::sync::Arc;

use aws_lc_rs::agreement;
use aws_lc_rs::signature::Ed25519KeyPair;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{
    ActiveKeyExchange, CryptoProvider, GetRandomFailed, SecureRandom, SharedSecret,
    SupportedKxGroup, WebPkiSupportedAlgorithms,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, NamedGroup, ServerConfig, SignatureScheme};

use super::ServeError;

/// The server's certificate and key.
pub(crate) struct ServerIdentity {
    pub certificate: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
}

/// Fills `buf` from the operating system's generator (`getrandom(2)` on Linux: no file
/// to open per fill, and it waits for the pool's first seeding instead of reading early).
fn os_random(buf: &mut [u8]) -> Result<(), getrandom::Error> {
    getrandom::fill(buf)
}

/// rustls's own randomness (hello random, session ids) from the OS.
#[derive(Debug)]
pub(crate) struct OsRandom;

impl SecureRandom for OsRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), GetRandomFailed> {
        os_random(buf).map_err(|_| GetRandomFailed)
    }
}

/// X25519 key exchange whose ephemeral private key comes from the OS (aws-lc's
/// own key generation would seed its generator first).
#[derive(Debug)]
pub(crate) struct X25519FromOs;

struct X25519Exchange {
    private: agreement::PrivateKey,
    public: Vec<u8>,
}

impl SupportedKxGroup for X25519FromOs {
    fn start(&self) -> Result<Box<dyn ActiveKeyExchange>, rustls::Error> {
        let failed = |what: &str| rustls::Error::General(format!("X25519 key exchange: {what}"));
        let mut seed = [0u8; 32];
        os_random(&mut seed).map_err(|e| failed(&e.to_string()))?;
        let private = agreement::PrivateKey::from_private_key(&agreement::X25519, &seed)
            .map_err(|e| failed(&e.to_string()))?;
        let public = private
            .compute_public_key()
            .map_err(|_| failed("no public key"))?
            .as_ref()
            .to_vec();
        Ok(Box::new(X25519Exchange { private, public }))
    }

    fn name(&self) -> NamedGroup {
        NamedGroup::X25519
    }
}

impl ActiveKeyExchange for X25519Exchange {
    fn complete(self: Box<Self>, peer_pub_key: &[u8]) -> Result<SharedSecret, rustls::Error> {
        agreement::agree(
            &self.private,
            agreement::UnparsedPublicKey::new(&agreement::X25519, peer_pub_key),
            rustls::Error::from(rustls::PeerMisbehaved::InvalidKeyShare),
            |secret| Ok(SharedSecret::from(secret)),
        )
    }

    fn pub_key(&self) -> &[u8] {
        &self.public
    }

    fn group(&self) -> NamedGroup {
        NamedGroup::X25519
    }
}

/// Makes a self-signed certificate shaped like go-plugin's own: CN and SAN
/// `localhost` (the name Terraform verifies), usable as its own CA. The key is
/// Ed25519 from an OS seed (Go's TLS accepts it; signing needs no randomness).
pub(crate) fn generate_identity() -> Result<ServerIdentity, ServeError> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
        KeyUsagePurpose,
    };
    let tls = |e: rcgen::Error| ServeError::Tls(e.to_string());
    let mut seed = [0u8; 32];
    os_random(&mut seed).map_err(|e| ServeError::Tls(format!("no OS randomness: {e}")))?;
    let key_error = |e: &dyn std::fmt::Display| ServeError::Tls(format!("Ed25519 key: {e}"));
    let pkcs8 = Ed25519KeyPair::from_seed_unchecked(&seed)
        .map_err(|e| key_error(&e))?
        .to_pkcs8v1()
        .map_err(|e| key_error(&e))?;
    let pkcs8 = PrivatePkcs8KeyDer::from(pkcs8.as_ref().to_vec());
    let key_pair =
        KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8, &rcgen::PKCS_ED25519).map_err(tls)?;
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).map_err(tls)?;
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    params
        .distinguished_name
        .push(DnType::OrganizationName, "HashiCorp");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyCertSign,
    ];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let certificate = params.self_signed(&key_pair).map_err(tls)?;
    Ok(ServerIdentity {
        certificate: certificate.der().clone(),
        key: PrivateKeyDer::Pkcs8(pkcs8),
    })
}

/// Reads the first certificate of a PEM text.
pub(crate) fn parse_pem_certificate(pem: &str) -> Result<CertificateDer<'static>, ServeError> {
    use rustls::pki_types::pem::PemObject;
    CertificateDer::from_pem_slice(pem.as_bytes())
        .map_err(|e| ServeError::Tls(format!("PLUGIN_CLIENT_CERT is not a PEM certificate: {e}")))
}

fn crypto_provider() -> Arc<CryptoProvider> {
    // aws-lc-rs, not ring: Terraform's AutoMTLS key is ECDSA P-521, which ring cannot verify
    // (and the AWS SDK's https client uses aws-lc-rs already: one provider in the binary).
    // Randomness from the OS, never from aws-lc's generator (see the module comment).
    static X25519: X25519FromOs = X25519FromOs;
    static RANDOM: OsRandom = OsRandom;
    Arc::new(CryptoProvider {
        kx_groups: vec![&X25519],
        secure_random: &RANDOM,
        ..rustls::crypto::aws_lc_rs::default_provider()
    })
}

/// The TLS configuration: our identity, the expected client certificate
/// required, HTTP/2 negotiated by ALPN (grpc-go insists on it).
pub(crate) fn server_config(
    identity: &ServerIdentity,
    client_certificate: CertificateDer<'static>,
) -> Result<ServerConfig, ServeError> {
    let provider = crypto_provider();
    let verifier = Arc::new(ExactClientCertificate {
        expected: client_certificate,
        algorithms: provider.signature_verification_algorithms,
    });
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServeError::Tls(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![identity.certificate.clone()], identity.key.clone_key())
        .map_err(|e| ServeError::Tls(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    // One connection per plugin process: a resumption ticket is never used.
    config.send_tls13_tickets = 0;
    Ok(config)
}

/// Accepts only the one client certificate Terraform announced.
#[derive(Debug)]
struct ExactClientCertificate {
    expected: CertificateDer<'static>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for ExactClientCertificate {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.expected.as_ref() {
            Ok(ClientCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_exactly_the_announced_client_certificate() {
        let announced = generate_identity().unwrap().certificate;
        let other = generate_identity().unwrap().certificate;
        let verifier = ExactClientCertificate {
            expected: announced.clone(),
            algorithms: crypto_provider().signature_verification_algorithms,
        };
        let now = UnixTime::now();
        assert!(verifier.verify_client_cert(&announced, &[], now).is_ok());
        assert!(verifier.verify_client_cert(&other, &[], now).is_err());
        assert!(verifier.client_auth_mandatory());
        // Terraform's key type.
        assert!(
            verifier
                .supported_verify_schemes()
                .contains(&SignatureScheme::ECDSA_NISTP521_SHA512)
        );
    }

    #[test]
    fn x25519_from_os_agrees_with_its_peer_and_never_repeats_a_key() {
        let ours = X25519FromOs.start().unwrap();
        let theirs = X25519FromOs.start().unwrap();
        assert_eq!(ours.pub_key().len(), 32);
        assert_ne!(ours.pub_key(), theirs.pub_key(), "fresh key per exchange");
        let their_public = theirs.pub_key().to_vec();
        let our_public = ours.pub_key().to_vec();
        let ours_secret = ours.complete(&their_public).unwrap();
        let theirs_secret = theirs.complete(&our_public).unwrap();
        assert_eq!(ours_secret.secret_bytes(), theirs_secret.secret_bytes());
        // A malformed share is refused, not agreed on.
        assert!(X25519FromOs.start().unwrap().complete(&[7u8; 5]).is_err());
    }

    #[test]
    fn the_server_draws_no_randomness_from_aws_lc() {
        let provider = crypto_provider();
        assert_eq!(provider.kx_groups.len(), 1);
        assert_eq!(provider.kx_groups[0].name(), NamedGroup::X25519);
        let mut a = [0u8; 32];
        let mut b = [0u8; 32];
        provider.secure_random.fill(&mut a).unwrap();
        provider.secure_random.fill(&mut b).unwrap();
        assert_ne!(a, b);
        // Ed25519: deterministic signatures, so serving never seeds aws-lc's generator.
        let identity = generate_identity().unwrap();
        let config = server_config(&identity, generate_identity().unwrap().certificate).unwrap();
        assert_eq!(config.send_tls13_tickets, 0);
        assert_ne!(
            identity.certificate,
            generate_identity().unwrap().certificate
        );
    }
}
